"""The demo's whole loop, in two browsers: the sandbox's "Simular ligação" opens the client for the operator,
the tabulação reaches the sandbox as the call's qualification, and the hang-up puts the call on the timeline."""

import pytest
from playwright.sync_api import expect

from core.models import Client
from dialer import exports
from sandbox.views import SANDBOX
from tenants.settings_schema import clean_settings
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_simulated_call_tabulation_and_hang_up(
    page, browser, browser_context_args, live_server, tenant, tenant_admin, operator, make_client, run_worker
):
    SANDBOX.reset()  # the in-app sandbox outlives a test: start from an empty company
    tenant.settings = clean_settings(
        {
            "threecplus_base_url": f"{live_server.url}/sandbox/3cplus/api/v1",
            "threecplus_api_key": "sandbox-alfa",  # a tenant opens only its own company: sandbox-<its slug>
            "threecplus_agent_token": "sandbox-agent-alfa",
        }
    )
    tenant.save()
    operator.membership.threecplus_agent_id = "1004"
    operator.membership.save()
    debtor = make_client(name="Rita Retorno", phones=("+5511987650000",))
    account = SANDBOX.account("alfa")
    campaign_id = next(c["id"] for c in account.campaigns.values() if not c["paused"])
    export = exports.create_export(
        tenant, tenant_admin, Client.objects.filter(pk=debtor.pk), campaign_id=campaign_id, enqueue=False
    )
    assert exports.run_export(export.pk).sent_count == 1

    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#console")).to_contain_text("Aguardando ligação")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)

    admin_context = browser.new_context(**browser_context_args)
    admin_page = admin_context.new_page()
    login(admin_page, live_server, tenant_admin, next_url="/sandbox/3cplus/")
    simulate = admin_page.get_by_test_id("simulate-alfa")
    simulate.locator("select[name=identifier]").select_option(str(debtor.pk))
    simulate.locator("select[name=agent_id]").select_option("1004")
    simulate.get_by_role("button", name="Simular ligação").click()
    expect(admin_page.locator("body")).to_contain_text("conectada ao agente 1004")

    page.wait_for_url(f"**/atendimento/{debtor.pk}/?call_id=*", timeout=15_000)  # the 3 s pop: bench_screen_pop
    expect(page.locator("h1")).to_have_text("Rita Retorno")
    page.get_by_role("radio", name="Caixa Postal").check()
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("Enviando ao 3C Plus")

    run_worker()

    admin_page.reload()
    expect(admin_page.locator("#sandbox-qualifications")).to_contain_text("Caixa Postal")
    expect(admin_page.locator("#sandbox-qualifications")).to_contain_text("agente 1004")
    admin_page.locator("#sandbox-calls").get_by_role("button", name="Desligar").click()
    expect(admin_page.locator("body")).to_contain_text("histórico enviado ao webhook")

    page.reload()
    expect(page.locator("#timeline-list")).to_contain_text("Ligação do discador")
    expect(page.locator("#timeline-list")).to_contain_text("qualificação Caixa Postal")
    expect(page.locator("#timeline-list")).to_contain_text("Enviada ao 3C Plus")
    admin_context.close()
