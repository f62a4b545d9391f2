import re

import pytest
from playwright.sync_api import expect

from dialer.models import DialerExport
from tenants.settings_schema import clean_settings
from tests.browser.conftest import login
from tests.dialer.conftest import TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_send_the_filtered_wallet_to_the_dialer(
    page, live_server, tenant_admin, tenant, make_client, sandbox_server, settings, screenshot
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    for n in range(60):  # more than one page of the Carteira
        make_client(name=f"Cliente {n:02d}")
    login(page, live_server, tenant_admin, next_url="/admin/core/client/")
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#action-toggle").check()
    page.get_by_text("Selecionar todos", exact=False).first.click()
    page.locator("select[name=action]").first.select_option("send_to_dialer")
    page.locator("button[name=index]").first.click()
    expect(page.locator("#preview-to-send")).to_have_text("60")
    screenshot(page, "enviar-para-discador-confirmacao")
    page.get_by_test_id("confirm-send").click()
    expect(page.locator("#export-progress")).to_have_attribute("data-status", "concluido")
    expect(page.locator("#export-progress")).to_contain_text("60 / 60")
    screenshot(page, "enviar-para-discador-progresso")
    export = DialerExport.objects.get()
    assert len(sandbox_server.sandbox.account("alfa").contacts[export.list_id]) == 60


def test_continuar_envio_resumes_a_paused_export(
    page, live_server, supervisor, tenant, make_client, sandbox_server, settings, screenshot
):
    from core.models import Client
    from dialer import exports

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    for n in range(4):
        make_client(name=f"Cliente {n}")
    campaign = next(iter(sandbox_server.sandbox.account("alfa").campaigns))
    export = exports.create_export(tenant, supervisor, Client.objects.all(), campaign_id=campaign, enqueue=False)
    DialerExport.objects.filter(pk=export.pk).update(
        status=DialerExport.Status.PAUSED, error_summary="O 3C Plus está indisponível no momento. Pausado."
    )
    login(page, live_server, supervisor, next_url=f"/admin/dialer/dialerexport/{export.pk}/change/")
    expect(page.locator("#export-progress")).to_have_attribute("data-status", "pausado")
    expect(page.locator("#export-error")).to_contain_text("indisponível")
    screenshot(page, "envio-pausado")
    page.get_by_role("button", name="Continuar envio").click()
    expect(page.locator("#export-progress")).to_have_attribute("data-status", "concluido")
    expect(page.locator("#export-progress")).to_contain_text("4 / 4")
    expect(page.get_by_role("button", name="Continuar envio")).to_have_count(0)
    export.refresh_from_db()
    assert len(sandbox_server.sandbox.account("alfa").contacts[export.list_id]) == 4


def test_a_big_selection_shows_preparando_then_the_whole_page(
    page, live_server, supervisor, tenant, make_client, sandbox_server, screenshot
):
    """While the worker freezes the selection the page shows how far it got; once frozen it is drawn again,
    so the counts outside the progress fragment are the whole selection's."""
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    export = DialerExport.objects.create(
        tenant=tenant,
        requested_by=supervisor,
        campaign_id=1,
        list_name="Carteira inteira",
        status=DialerExport.Status.PREPARING,
        selection_frozen=False,
        prepare_done=440_000,
        prepare_total=1_100_000,
    )
    login(page, live_server, supervisor, next_url=f"/admin/dialer/dialerexport/{export.pk}/change/")
    expect(page.locator("#export-progress")).to_have_attribute("data-status", "preparando")
    expect(page.locator("#export-preparing")).to_contain_text("440000 de 1100000")
    screenshot(page, "envio-preparando")
    DialerExport.objects.filter(pk=export.pk).update(
        selection_frozen=True,
        status=DialerExport.Status.RUNNING,
        selected_count=1_099_998,
        to_send_count=1_056_131,
        prepare_done=1_100_000,
    )
    expect(page.locator("#export-progress")).to_have_attribute("data-status", "enviando")
    # "clientes selecionados" lives outside the fragment: only a new page shows it.
    expect(page.locator("body")).to_contain_text(re.compile(r"1\.?099\.?998"))
