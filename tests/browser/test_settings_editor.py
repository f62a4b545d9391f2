"""The tenant's settings page in a real browser: the JSON editor never loses an edit, and speaks Portuguese."""

import re

import pytest
from playwright.sync_api import expect

from tenants.settings_schema import clean_settings
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_edit_in_the_json_editor_is_saved(page, live_server, tenant_admin, tenant, screenshot):
    tenant.settings = clean_settings({"threecplus_domain": "alfa", "threecplus_campaign_id": 5})
    tenant.save()
    login(page, live_server, tenant_admin, next_url=f"/admin/tenants/tenant/{tenant.pk}/change/")
    editor = page.locator(".settings-json-editor")
    expect(editor).to_be_visible()
    expect(editor).to_contain_text("Adicionar propriedade")
    expect(editor).not_to_contain_text(re.compile("Add property|Properties"))
    label = editor.locator('label[for="root-threecplus_base_url-activator"]')  # "URL da API (opcional)"
    expect(label).to_have_css("text-transform", "none")
    screenshot(page, "configuracoes-json")

    campaign = editor.locator("#root-threecplus_campaign_id")
    campaign.fill("7")
    campaign.blur()
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == 7
    expect(page.locator("input[name=threecplus_campaign_id]")).to_have_value("7")


@pytest.mark.real_calling_hours
def test_calling_hours_and_limits_are_fields_a_person_can_fill(page, live_server, tenant_admin, tenant, screenshot):
    login(page, live_server, tenant_admin, next_url=f"/admin/tenants/tenant/{tenant.pk}/change/")
    hours = page.get_by_test_id("calling-hours")
    expect(hours).to_be_visible()
    expect(hours.get_by_label("dias úteis")).to_have_value("08:00-20:00")  # the defaults the eligibility applies
    expect(hours.get_by_label("domingo")).to_have_value("")
    hours.get_by_label("sábado").fill("14h às 18h")
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Horário inválido para sábado", exact=False)).to_be_visible()
    screenshot(page, "configuracoes-horarios-erro")
    tenant.refresh_from_db()
    assert "dialer_calling_hours" not in tenant.settings

    hours.get_by_label("sábado").fill("09:00-13:00")
    page.locator("input[name=dialer_max_calls_per_day]").fill("3")
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.settings["dialer_calling_hours"]["saturday"] == "09:00-13:00"
    assert tenant.settings["dialer_max_calls_per_day"] == 3
    expect(page.get_by_test_id("calling-hours").get_by_label("sábado")).to_have_value("09:00-13:00")
    screenshot(page, "configuracoes-horarios")
