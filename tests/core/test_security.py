"""Security defaults: login throttling, CSRF on every state change, secrets out of logs, production checks."""

import json
import logging
import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.test import Client as HttpClient

from config.settings import proxy_settings
from core.models import Client
from dialer import exports
from tenants.models import AuditEvent, Tenant
from tests.conftest import PASSWORD
from tests.dialer.conftest import AGENT_TOKEN, TOKEN
from tests.tenants.test_settings import change_url, form_data
from tests.urlconf import walk

pytestmark = pytest.mark.django_db


def login(http, username, password):
    return http.post("/entrar/", {"username": username, "password": password})


def test_repeated_wrong_passwords_lock_that_user_from_that_address(settings, operator, supervisor):
    http = HttpClient()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(http, operator.username, "senha-errada")
        assert response.status_code == 200 and "sessionid" not in response.cookies
    assert login(http, operator.username, "senha-errada").status_code == 429  # the last one allowed
    locked = login(http, operator.username, PASSWORD)  # even the right password, now
    assert locked.status_code == 429
    assert "Muitas tentativas de entrada sem sucesso" in locked.content.decode()
    assert "_auth_user_id" not in http.session
    # Another user from the same address (a call centre shares one IP) still gets in.
    assert login(HttpClient(), supervisor.username, PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(settings, operator):
    http = HttpClient()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        login(http, operator.username, "senha-errada")
    assert login(http, operator.username, PASSWORD).status_code == 302
    http.logout()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        login(http, operator.username, "senha-errada")
    assert login(http, operator.username, PASSWORD).status_code == 302


PROXY = "10.0.0.2"  # the README's HTTPS proxy: every request reaches the app from its address


def behind_the_proxy(forwarded_for: str) -> HttpClient:
    """A browser behind the proxy, which appends the address it sees to X-Forwarded-For."""
    return HttpClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)


@pytest.fixture
def one_proxy(settings):
    for name, value in proxy_settings(1).items():  # what AXES_PROXY_COUNT=1 configures
        setattr(settings, name, value)


def test_behind_one_proxy_each_client_is_throttled_by_its_own_address(settings, one_proxy, operator):
    alice, bob = behind_the_proxy("177.10.0.1"), behind_the_proxy("177.20.0.2")
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        login(alice, operator.username, "senha-errada")
    assert login(alice, operator.username, PASSWORD).status_code == 429
    assert login(bob, operator.username, PASSWORD).status_code == 302  # the same user, from another address
    bob.logout()

    # An attacker writes bob's address into X-Forwarded-For; the proxy appends the attacker's real one.
    mallory = behind_the_proxy("177.20.0.2, 177.30.0.3")
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        login(mallory, operator.username, "senha-errada")
    assert login(mallory, operator.username, PASSWORD).status_code == 429
    assert login(bob, operator.username, PASSWORD).status_code == 302
    locked = set(AccessAttempt.objects.filter(username=operator.username).values_list("ip_address", flat=True))
    assert locked == {"177.10.0.1", "177.30.0.3"}


# Called by an outside system, each proving itself otherwise: 3C Plus (secret in the URL), the PSP (secret in the URL,
# mTLS where required), Meta (X-Hub-Signature-256), Twilio (X-Twilio-Signature); and the sandboxes' fake APIs (token).
CSRF_EXEMPT = {
    "threecplus_webhook",
    "pix_webhook",
    "pix_webhook_pix",
    "whatsapp_webhook",
    "sms_status",
    "sandbox_api",
    "sandbox_psp_api",
    "sandbox_whatsapp_api",
}


def test_only_the_webhooks_skip_csrf():
    exempt = {name or route for route, name, view in walk() if getattr(view, "csrf_exempt", False)}
    # The admin's views are protected inside (csrf_protect_m) even where the URL wrapper is exempt.
    assert {name for name in exempt if not name.startswith("admin:")} == CSRF_EXEMPT


def test_state_changes_without_the_csrf_token_are_refused(operator, tenant_admin, make_client):
    wallet_client = make_client()
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(operator)
    response = http.post(f"/atendimento/{wallet_client.pk}/tabular/", {"type": "1"})
    assert response.status_code == 403
    http.force_login(tenant_admin)
    assert http.post(f"/admin/core/client/{wallet_client.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Client.objects.filter(pk=wallet_client.pk).exists()


def test_no_token_in_the_logs_of_an_export_and_a_settings_save(
    caplog, client, tenant, tenant_admin, make_client, sandbox_server, sandbox
):
    caplog.set_level(logging.DEBUG)  # everything, httpx and httpcore included
    client.force_login(tenant_admin)
    response = client.post(
        change_url(tenant),
        form_data(
            tenant,
            threecplus_base_url=sandbox_server.url,
            threecplus_api_key=TOKEN,
            threecplus_agent_token=AGENT_TOKEN,
        ),
    )
    assert response.status_code == 302
    response = client.post(
        change_url(tenant), form_data(Tenant.objects.get(pk=tenant.pk), threecplus_base_url=sandbox_server.url)
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    for n in range(30):
        make_client(name=f"Log {n}", phones=(f"+55119876{n:05d}",))
    campaign_id = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    sandbox.set_faults(fail_next=1, fail_status=503)  # a retry, so the warning path logs too
    export = exports.create_export(tenant, tenant_admin, Client.objects.all(), campaign_id=campaign_id, enqueue=False)
    assert exports.run_export(export.pk, api_factory=None).sent_count == 30
    assert caplog.records, "nothing was logged: the check would prove nothing"
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    stored = tenant.settings["threecplus_api_key"]
    for secret in (TOKEN, AGENT_TOKEN, stored, tenant.settings["threecplus_agent_token"]):
        assert secret not in logged
    audit_text = json.dumps(list(AuditEvent.objects.values_list("changes", flat=True)), ensure_ascii=False)
    assert TOKEN not in audit_text and stored not in audit_text
    assert "••••" in audit_text  # the change is recorded, masked


def production_env(**extra):
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by browser tests
    return {
        **inherited,
        "DEBUG": "0",
        "SECRET_KEY": "p" * 20 + "-segredo-de-producao-com-mais-de-50-caracteres-" + "q" * 10,
        "FIELD_ENCRYPTION_KEY": "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtcHJvZCE=",
        "ALLOWED_HOSTS": "cobranca.exemplo.com.br",
        "PUBLIC_BASE_URL": "https://cobranca.exemplo.com.br",
        **extra,
    }


def test_check_deploy_is_clean_in_production():
    """The issue's command: DEBUG=0 and the two keys, nothing else (the host comes from PUBLIC_BASE_URL)."""
    env = {k: v for k, v in production_env().items() if k not in ("ALLOWED_HOSTS", "PUBLIC_BASE_URL")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_and_hsts():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env={**production_env(), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", "True", "31536000", "True"]


def test_every_page_carries_the_content_security_policy(client, operator):
    client.force_login(operator)
    policy = client.get("/atendimento/").headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "connect-src 'self'", "object-src 'none'", "form-action 'self'"):
        assert directive in policy
    assert "Content-Security-Policy" in client.get("/entrar/").headers
