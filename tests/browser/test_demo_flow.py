"""The README's demo, as a newcomer runs it: `manage.py demo` on its own default (a SQLite file), the sandbox
3C Plus inside the app and its real `db_worker`. The admin sends a filtered batch to the dialer, the sandbox pops
a call to the operator, the operator tabulates it and the tabulação reaches the sandbox as the call's
qualification; nothing along the way meets "database is locked".

The demo runs in its own processes on its own SQLite file whatever DATABASE_URL the suite runs on, so the test
is the same on SQLite and on PostgreSQL.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from common.processes import stop, wait_until_answering

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Run in the demo's database before it serves: the dialer's calling window open at any hour (the test runs at
# night and on Sundays too: the agency's hours and every state's window widened), and one client the rule lets be
# dialled, to filter the Carteira by.
PREPARE = """
import json
from core.models import Client
from dialer.eligibility import HOURS_KEY, UF_TIME_ZONES, eligible
from dialer.models import CallingWindowOverride
from tenants.models import Tenant
from tenants.settings_schema import clean_settings

tenant = Tenant.objects.get(slug="demo")
always = "00:00-24:00"
hours = {"weekdays": always, "saturday": always, "sunday": always, "holidays": always}
tokens = {"threecplus_api_key": "sandbox-demo", "threecplus_agent_token": "sandbox-agent-demo"}  # as the demo's
tenant.settings = clean_settings({**tenant.stored_settings, **tokens, HOURS_KEY: hours}, tenant.stored_settings)
tenant.save(update_fields=["settings"])
for uf in [*UF_TIME_ZONES, "NORONHA"]:  # the law's window per UF, widened as a tenant may (with a reason)
    CallingWindowOverride.objects.update_or_create(
        tenant=tenant, state=uf, defaults={**hours, "reason": "Teste de ponta a ponta: discar a qualquer hora."}
    )
campaign = tenant.stored_settings["threecplus_campaign_id"]
client = eligible(Client.objects.filter(tenant=tenant), tenant, campaign).order_by("pk").first()
print(json.dumps({"id": client.pk, "name": client.name, "cpf": client.cpf}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    """`manage.py demo --port N` on a fresh SQLite file: {"url", "client", "log"}; stopped as Ctrl+C would."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DIALER_SANDBOX", "DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    manage = [sys.executable, "manage.py"]
    run = {"cwd": settings.BASE_DIR, "env": env, "capture_output": True, "text": True, "timeout": 240, "check": True}
    subprocess.run([*manage, "demo", "--seed-only", "--port", str(port)], **run)
    prepared = subprocess.run([*manage, "shell", "-c", PREPARE], **run)
    client = json.loads(prepared.stdout.strip().splitlines()[-1])
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*manage, "demo", "--port", str(port)], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answering(f"{url}/healthz", process, timeout=120), log_path.read_text()
        yield {"url": url, "client": client, "log": log_path}
    finally:
        stop(process, timeout=20)
        # Shown when the test fails: what the demo and its worker said, without the pages' polling.
        said = [line for line in log_path.read_text().splitlines() if '"GET /' not in line]
        print("\n".join(said)[-20000:])


def sign_in(page, url, username, password, next_url):
    page.goto(f"{url}/entrar/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_the_readme_demo_send_pop_tabulate_and_qualify(page, browser, browser_context_args, demo, screenshot):
    url, debtor = demo["url"], demo["client"]
    problems = []

    def watch(tab):
        tab.on("console", lambda message: message.type == "error" and problems.append(message.text))
        tab.on("response", lambda answer: answer.status >= 500 and problems.append(f"{answer.status} {answer.url}"))

    watch(page)

    # The operator waits for a call.
    sign_in(page, url, "operador", "operador12345", "/atendimento/")
    expect(page.locator("#console")).to_contain_text("Aguardando ligação")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)

    # The admin filters the Carteira and sends the batch to the dialer; the demo's worker sends it.
    admin = browser.new_context(**browser_context_args).new_page()
    watch(admin)
    sign_in(admin, url, "admin", "admin12345", f"/admin/core/client/?q={debtor['cpf']}")
    expect(admin.locator("#result_list")).to_contain_text(debtor["name"])
    admin.locator("#action-toggle").check()
    admin.locator("select[name=action]").first.select_option("send_to_dialer")
    admin.locator("button[name=index]").first.click()
    expect(admin.locator("#preview-to-send")).to_have_text("1")
    admin.get_by_test_id("confirm-send").click()
    expect(admin.locator("#export-progress")).to_have_attribute("data-status", "concluido", timeout=120_000)

    # The sandbox pops the call to the operator's agent (the demo's operator is agent 1001).
    admin.goto(f"{url}/sandbox/3cplus/")
    simulate = admin.get_by_test_id("simulate-demo")
    simulate.locator("select[name=identifier]").select_option(str(debtor["id"]))
    simulate.locator("select[name=agent_id]").select_option("1001")
    simulate.get_by_role("button", name="Simular ligação").click()
    expect(admin.locator("body")).to_contain_text("conectada ao agente 1001")

    page.wait_for_url(f"**/atendimento/{debtor['id']}/?call_id=*", timeout=15_000)
    expect(page.locator("h1")).to_have_text(debtor["name"])
    page.get_by_role("radio", name="Caixa Postal").check()
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("Caixa Postal")

    # The worker writes the tabulação back; the sandbox lists it as the call's qualification.
    deadline = time.monotonic() + 60
    while "Caixa Postal" not in admin.locator("#sandbox-qualifications").inner_text():
        assert time.monotonic() < deadline, "the sandbox never received the qualification"
        time.sleep(1)
        admin.reload()
    page.reload()
    expect(page.locator("#timeline-list")).to_contain_text("Enviada ao 3C Plus")
    screenshot(page, "demo-tabulacao-qualificada")

    # Someone logs in meanwhile, as the supervisor did when the demo showed "database is locked".
    supervisor = browser.new_context(**browser_context_args).new_page()
    sign_in(supervisor, url, "supervisor", "supervisor12345", "/admin/")
    expect(supervisor.locator("body")).not_to_contain_text("OperationalError")

    log = Path(demo["log"]).read_text()
    assert "database is locked" not in log and "Tempo esgotado" not in log, log[-4000:]
    assert problems == []
