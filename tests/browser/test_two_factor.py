"""Enrolling an authenticator app and signing in with it, in a real browser."""

import base64

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def app_code(secret: str, drift: int = 0) -> str:
    """What the phone's app shows (drift=1: the next 30 seconds' code, which the server still accepts)."""
    return f"{totp(base64.b32decode(secret.replace(' ', '')), drift=drift):06d}"


def test_a_supervisor_enrols_and_then_signs_in_with_the_apps_code(page, live_server, supervisor, screenshot):
    login(page, live_server, supervisor, next_url="/admin/")
    expect(page.locator("a[href='/conta/segundo-fator/']")).to_have_count(1)  # in the account menu
    page.goto(f"{live_server.url}/conta/segundo-fator/")
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("two-factor-secret").inner_text()
    screenshot(page, "segundo-fator-cadastro")
    page.fill("input[name=code]", app_code(secret))
    page.get_by_role("button", name="Ativar segundo fator").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    expect(codes).to_have_count(10)
    screenshot(page, "segundo-fator-codigos")
    page.get_by_role("link", name="Guardei os códigos, continuar").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    page.context.clear_cookies()
    login(page, live_server, supervisor, next_url="/admin/core/client/")
    expect(page).to_have_url(f"{live_server.url}/entrar/codigo/?next=/admin/core/client/")
    page.fill("input[name=code]", "000000" if app_code(secret, drift=1) != "000000" else "111111")
    page.get_by_role("button", name="Confirmar").click()
    expect(page.get_by_text("Código incorreto")).to_be_visible()
    screenshot(page, "segundo-fator-entrada")
    page.wait_for_timeout(1100)  # django-otp's delay after a wrong code
    page.fill("input[name=code]", app_code(secret, drift=1))
    page.get_by_role("button", name="Confirmar").click()
    expect(page).to_have_url(f"{live_server.url}/admin/core/client/")
