"""Enrolling an authenticator app and signing in with it, in a real browser."""

import base64
import time

import pytest
from django_otp.oath import hotp, totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def app_code(secret: str) -> str:
    """What the phone's app shows now."""
    return f"{totp(base64.b32decode(secret.replace(' ', ''))):06d}"


def sign_in_code(secret: str, user) -> str:
    """The code the app shows for the first step the server will take after enrolment.

    django-otp keeps the drift the enrolment code showed (-1 when the page was submitted just after the 30 s step
    turned) and refuses any step up to the one already used: a fixed `drift=1` fell outside the window once on a
    loaded CI machine. The step is the app's clock as the server sees it, and never one already used."""
    device = TOTPDevice.objects.get(user=user)
    step = max(device.last_t + 1, int(time.time()) // device.step + device.drift)
    return f"{hotp(base64.b32decode(secret.replace(' ', '')), step):06d}"


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
    right = sign_in_code(secret, supervisor)
    page.fill("input[name=code]", "000000" if right != "000000" else "111111")
    page.get_by_role("button", name="Confirmar").click()
    expect(page.get_by_text("Código incorreto")).to_be_visible()
    screenshot(page, "segundo-fator-entrada")
    page.wait_for_timeout(1100)  # django-otp's delay after a wrong code
    page.fill("input[name=code]", sign_in_code(secret, supervisor))
    page.get_by_role("button", name="Confirmar").click()
    expect(page).to_have_url(f"{live_server.url}/admin/core/client/")
