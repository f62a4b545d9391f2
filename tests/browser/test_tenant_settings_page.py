"""Issue 24, item 7 in a real browser: the settings people look for are on the page, as fields of their own, and
a locked-out user is let back in by the tenant's admin."""

import pytest
from axes.models import AccessAttempt
from playwright.sync_api import expect

from tenants.models import AuditEvent
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tenant_page(tenant):
    return f"/admin/tenants/tenant/{tenant.pk}/change/"


def field(page, key):
    """A section's field (the JSON editor below has an input of the same label)."""
    return page.locator(f"#id_{key}")


def save(page):
    page.locator("button[name=_continue]").first.click()


def test_the_pix_receiver_has_its_own_section_and_the_key_is_saved_as_the_dict_holds_it(
    page, live_server, tenant_admin, tenant, screenshot
):
    login(page, live_server, tenant_admin, next_url=tenant_page(tenant))
    expect(page.get_by_role("heading", name="PIX", exact=True)).to_be_visible()
    expect(page.locator("label[for=id_pix_key]")).to_have_text("Chave PIX")
    field(page, "pix_key").fill("529.982.247-25")
    field(page, "pix_nome_recebedor").fill("Agência Alfa")
    field(page, "pix_cidade_recebedor").fill("São Paulo")
    save(page)
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.settings["pix_key"] == "52998224725"
    assert tenant.settings["pix_nome_recebedor"] == "Agência Alfa"
    expect(field(page, "pix_key")).to_have_value("52998224725")
    screenshot(page, "configuracoes-pix")

    field(page, "pix_key").fill("+55 (11) 98765-4321")
    save(page)
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.settings["pix_key"] == "+5511987654321"


def test_every_bad_field_is_reported_at_once_by_its_label(page, live_server, tenant_admin, tenant, screenshot):
    login(page, live_server, tenant_admin, next_url=tenant_page(tenant))
    field(page, "pix_key").fill("529.982.247-26")  # a wrong check digit
    field(page, "pix_nome_recebedor").fill("Agência Alfa")
    field(page, "pix_cidade_recebedor").fill("Recife")
    page.get_by_test_id("calling-hours").get_by_label("sábado").fill("14h às 18h")
    page.locator("input[name=dialer_max_calls_per_day]").fill("-1")
    page.locator("input[name=threecplus_campaign_id]").fill("campanha")
    save(page)
    body = page.locator("body")
    expect(body).to_contain_text("CPF ou CNPJ inválido como chave PIX")
    expect(body).to_contain_text("Horário inválido para sábado")
    expect(body).to_contain_text("número (ID) da campanha")
    expect(body).to_contain_text("Máximo de ligações por cliente por dia")
    for key in ("pix_key", "dialer_calling_hours", "dialer_max_calls_per_day", "threecplus_campaign_id"):
        expect(body).not_to_contain_text(key)
    screenshot(page, "configuracoes-erros-de-uma-vez")
    tenant.refresh_from_db()
    assert tenant.settings == {}


@pytest.mark.real_calling_hours
def test_closed_days_say_fechado_and_a_split_shift_is_accepted(page, live_server, tenant_admin, tenant, screenshot):
    login(page, live_server, tenant_admin, next_url=tenant_page(tenant))
    hours = page.get_by_test_id("calling-hours")
    for day in ("domingo", "feriados"):
        expect(hours.get_by_label(day)).to_have_value("")
        expect(hours.get_by_label(day)).to_have_attribute("placeholder", "fechado")
    hours.get_by_label("dias úteis").fill("08:00-12:00, 14:00-18:00")
    save(page)
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.settings["dialer_calling_hours"]["weekdays"] == "08:00-12:00, 14:00-18:00"
    expect(page.get_by_test_id("calling-hours").get_by_label("dias úteis")).to_have_value("08:00-12:00, 14:00-18:00")
    screenshot(page, "configuracoes-turnos")


def test_a_locked_out_user_sees_usable_boxes_and_the_admin_unlocks_them(
    browser, browser_context_args, page, live_server, settings, tenant_admin, operator, screenshot
):
    person = browser.new_context(**browser_context_args).new_page()
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        login(person, live_server, operator, password="senha-errada")
    expect(person.get_by_test_id("locked-out")).to_be_visible()
    # The boxes on the lockout page are drawn like the login's (unfold's classes), not borderless.
    for name in ("username", "password"):
        expect(person.locator(f"input[name={name}]")).to_have_css("border-top-width", "1px")
    screenshot(person, "entrada-bloqueada")
    login(person, live_server, operator)
    expect(person.get_by_test_id("locked-out")).to_be_visible()  # the right password does not help yet

    login(page, live_server, tenant_admin, next_url=f"/admin/auth/user/{operator.pk}/change/")
    lock = page.get_by_test_id("sign-in-lock")
    expect(lock).to_contain_text("Bloqueado por tentativas erradas")
    screenshot(page, "usuario-bloqueado")
    page.once("dialog", lambda dialog: dialog.accept())
    lock.get_by_role("button", name="Desbloquear").click()
    expect(page.get_by_text(f"{operator.username} pode entrar de novo")).to_be_visible()
    expect(page.get_by_test_id("sign-in-lock")).to_contain_text("Não bloqueado")
    assert not AccessAttempt.objects.filter(username=operator.username).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_UNLOCKED, object_id=str(operator.pk)).exists()

    login(person, live_server, operator)
    expect(person).to_have_url(f"{live_server.url}/atendimento/")
