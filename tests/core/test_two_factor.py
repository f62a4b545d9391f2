"""Second factor at sign-in, as a person (and an attacker holding only the password) goes through it."""

import base64

import pytest
from axes.models import AccessAttempt
from django.test import Client as HttpClient
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from core.two_factor_views import PENDING_KEY
from tenants.models import AuditEvent, Role
from tenants.two_factor import TWO_FACTOR_REQUIRED
from tests.conftest import PASSWORD, make_user
from tests.tenants.test_settings import change_url, form_data

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action

NOW = "2026-12-07 12:00:00"


def code_now(key: str) -> str:
    return f"{totp(bytes.fromhex(key)):06d}"


def sign_in(http, user) -> None:
    response = http.post("/entrar/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def enrol(http, user) -> tuple[str, list[str]]:
    """Signs in and enrols; the TOTP key and the recovery codes."""
    sign_in(http, user)
    page = http.get("/conta/segundo-fator/")
    assert page.status_code == 200 and b"<svg" in page.content
    key = http.session[PENDING_KEY]
    shown = page.context["secret"].replace(" ", "")
    assert TOTPDevice(key=key).bin_key == base64.b32decode(shown)  # the typed secret is the QR's
    done = http.post("/conta/segundo-fator/", {"code": code_now(key)})
    assert done.status_code == 200, done.content.decode()[:1000]
    codes = done.context["codes"]
    assert len(codes) == 10 and all(code in done.content.decode() for code in codes)
    return key, codes


def is_code_page(response, next_url) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/entrar/codigo/?next=" + next_url)


def test_enrol_then_every_sign_in_asks_for_a_code(supervisor, operator):
    http = HttpClient()
    with freeze_time(NOW) as clock:
        key, _codes = enrol(http, supervisor)
        device = TOTPDevice.objects.get(user=supervisor)
        assert device.confirmed and StaticToken.objects.filter(device__user=supervisor).count() == 10
        event = AuditEvent.objects.get(action=Action.TWO_FACTOR_ENROLLED)
        assert event.user == supervisor and event.object_id == str(supervisor.pk)
        assert http.get("/admin/").status_code == 200  # the enrolling session is verified
        enrol_code = code_now(key)

        http.post("/sair/")
        sign_in(http, supervisor)
        # Password only: nothing but the code page and the sign-out.
        for path in ("/admin/", "/admin/core/client/", "/atendimento/", "/conta/segundo-fator/", "/"):
            assert is_code_page(http.get(path), "/"), path
        # The code that confirmed the enrolment cannot be replayed.
        replay = http.post("/entrar/codigo/?next=/admin/core/client/", {"code": enrol_code})
        assert replay.status_code == 200 and "Código incorreto ou já usado" in replay.content.decode()
        clock.tick(31)
        wrong = f"{(int(code_now(key)) + 1) % 1_000_000:06d}"
        refused = http.post("/entrar/codigo/?next=/admin/core/client/", {"code": wrong})
        assert refused.status_code == 200 and "Código incorreto" in refused.content.decode()
        assert is_code_page(http.get("/admin/"), "/admin/")
        clock.tick(5)  # django-otp waits 1, 2, 4… seconds after each wrong code
        accepted = http.post("/entrar/codigo/", {"code": code_now(key), "next": "/admin/core/client/"})
        assert accepted.status_code == 302 and accepted["Location"] == "/admin/core/client/"
        assert http.get("/admin/").status_code == 200

    # Users without a device sign in as before.
    other = HttpClient()
    sign_in(other, operator)
    assert other.get("/atendimento/").status_code == 200


def test_a_recovery_code_signs_in_once(supervisor):
    http = HttpClient()
    with freeze_time(NOW) as clock:
        _key, codes = enrol(http, supervisor)
        http.post("/sair/")
        sign_in(http, supervisor)
        typed = codes[0].upper()[:4] + "-" + codes[0].upper()[4:]  # as people copy it
        assert http.post("/entrar/codigo/", {"code": typed}).status_code == 302
        assert http.get("/admin/").status_code == 200
        event = AuditEvent.objects.get(action=Action.RECOVERY_CODE_USED)
        assert event.user == supervisor and event.changes == {"códigos restantes": ["", "9"]}

        http.post("/sair/")
        clock.tick(60)
        sign_in(http, supervisor)
        again = http.post("/entrar/codigo/", {"code": codes[0]})
        assert again.status_code == 200 and "Código incorreto ou já usado" in again.content.decode()
        assert is_code_page(http.get("/admin/"), "/admin/")


@pytest.mark.parametrize("typed", ["①②③④⑤⑥", "١٢٣٤٥٦", "12345\x00", "9" * 5000, "abc", ""])
def test_hostile_codes_are_refused_without_an_error(supervisor, typed):
    http = HttpClient()
    with freeze_time(NOW):
        enrol(http, supervisor)
        http.post("/sair/")
        sign_in(http, supervisor)
        response = http.post("/entrar/codigo/", {"code": typed})
        assert response.status_code == 200
        assert is_code_page(http.get("/admin/"), "/admin/")


def test_wrong_codes_lock_like_wrong_passwords(settings, supervisor):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # each code really checked: the lockout, not the delay, stops it
    http = HttpClient()
    with freeze_time(NOW):
        key, _codes = enrol(http, supervisor)
        http.post("/sair/")
        sign_in(http, supervisor)
        wrong = f"{(int(code_now(key)) + 500_000) % 1_000_000:06d}"
        for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
            assert http.post("/entrar/codigo/", {"code": wrong}).status_code == 200
        locked = http.post("/entrar/codigo/", {"code": wrong})
        assert locked.status_code == 429 and "Muitas tentativas" in locked.content.decode()
        assert "_auth_user_id" not in http.session  # signed out: the password must be given again
        assert wrong not in AccessAttempt.objects.get().post_data  # what was typed is not kept
        # Even the right password and code, from this address, until the cool-off.
        assert http.post("/entrar/", {"username": supervisor.username, "password": PASSWORD}).status_code == 429


def test_a_tenant_admin_resets_a_users_second_factor_audited(tenant_admin, supervisor, other_tenant):
    with freeze_time(NOW):
        enrol(HttpClient(), supervisor)
    url = f"/admin/auth/user/{supervisor.pk}/redefinir-segundo-fator/"

    stranger = HttpClient()
    stranger.force_login(make_user(other_tenant, Role.ADMIN))
    assert stranger.post(url).status_code == 404
    assert stranger.get(f"/admin/auth/user/{supervisor.pk}/change/").status_code == 404
    assert TOTPDevice.objects.filter(user=supervisor).exists()

    colleague = HttpClient()
    colleague.force_login(make_user(supervisor.membership.tenant, Role.SUPERVISOR, username="outro-supervisor"))
    assert colleague.post(url).status_code in (302, 403, 404)
    assert TOTPDevice.objects.filter(user=supervisor).exists(), "only tenant admins reset"

    admin = HttpClient()
    admin.force_login(tenant_admin)
    page = admin.get(f"/admin/auth/user/{supervisor.pk}/change/").content.decode()
    assert "Redefinir segundo fator" in page and "Ativo desde" in page
    assert admin.get(url).status_code == 404  # a GET changes nothing
    response = admin.post(url)
    assert response.status_code == 302 and response["Location"] == f"/admin/auth/user/{supervisor.pk}/change/"
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    assert not StaticDevice.objects.filter(user=supervisor).exists()
    event = AuditEvent.objects.get(action=Action.TWO_FACTOR_RESET)
    assert event.user == tenant_admin and event.object_id == str(supervisor.pk)
    assert event.tenant == supervisor.membership.tenant
    assert "Não cadastrado" in admin.get(f"/admin/auth/user/{supervisor.pk}/change/").content.decode()

    http = HttpClient()
    sign_in(http, supervisor)  # back to the password alone
    assert http.get("/admin/").status_code == 200


def test_the_tenant_setting_forces_admins_and_supervisors_to_enrol(tenant, tenant_admin, supervisor, operator):
    admin = HttpClient()
    admin.force_login(tenant_admin)
    data = form_data(tenant, **{TWO_FACTOR_REQUIRED: "on"})
    assert admin.post(change_url(tenant), data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings[TWO_FACTOR_REQUIRED] is True
    change = AuditEvent.objects.get(action=Action.SETTINGS_CHANGED)
    assert change.changes[TWO_FACTOR_REQUIRED] == ["", "True"]

    # The admin who switched it on is sent to enrol at the next request, like everyone else in the back office.
    assert admin.get("/admin/").status_code == 302
    http = HttpClient()
    sign_in(http, supervisor)
    for path in ("/admin/", "/admin/core/client/", "/atendimento/"):
        response = http.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/conta/segundo-fator/"), path
    assert "exige segundo fator" in http.get("/conta/segundo-fator/").content.decode()
    assert http.get("/entrar/codigo/").status_code == 302  # there is no code to give yet
    key = http.session[PENDING_KEY]
    with freeze_time(NOW):
        assert http.post("/conta/segundo-fator/", {"code": code_now(key)}).status_code == 200
    assert http.get("/admin/").status_code == 200

    # Operators are not required.
    desk = HttpClient()
    sign_in(desk, operator)
    assert desk.get("/atendimento/").status_code == 200


def test_the_setting_is_a_boolean():
    from django.core.exceptions import ValidationError

    from tenants.settings_schema import clean_settings

    with pytest.raises(ValidationError) as error:
        clean_settings({TWO_FACTOR_REQUIRED: "sim"})
    assert "use true ou false" in " ".join(error.value.message_dict[TWO_FACTOR_REQUIRED])
    assert clean_settings({TWO_FACTOR_REQUIRED: True})[TWO_FACTOR_REQUIRED] is True


def test_a_wrong_enrolment_code_stores_nothing(supervisor):
    http = HttpClient()
    with freeze_time(NOW):
        sign_in(http, supervisor)
        http.get("/conta/segundo-fator/")
        key = http.session[PENDING_KEY]
        wrong = f"{(int(code_now(key)) + 3) % 1_000_000:06d}"
        response = http.post("/conta/segundo-fator/", {"code": wrong})
        assert response.status_code == 200 and "não confere" in response.content.decode()
        assert not TOTPDevice.objects.exists() and not AuditEvent.objects.exists()
        assert http.session[PENDING_KEY] == key  # the app already scanned still works for the next try


def test_the_call_stream_is_closed_to_a_session_that_still_owes_its_code(operator):
    """The stream checks the second factor itself (TwoFactorMiddleware leaves it, so the check runs on a shared
    database thread): a password alone opens no stream of client names and phones."""
    from tenants.models import Membership

    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    http = HttpClient()
    with freeze_time(NOW) as clock:
        key, _codes = enrol(http, operator)
        http.post("/sair/")
        sign_in(http, operator)
        refused = http.get("/atendimento/ligacoes/")
        assert refused.status_code == 302 and refused["Location"].startswith("/entrar/")
        clock.tick(31)  # the enrolment's code cannot be used again
        http.post("/entrar/codigo/", {"code": code_now(key), "next": "/atendimento/"})
        # Verified: the view goes on (204 here: the test client is no ASGI server that could stream).
        assert http.get("/atendimento/ligacoes/").status_code == 204
