"""Second factor at sign-in (django-otp): a TOTP app plus single-use recovery codes, per user.

A user with a confirmed TOTP device must give a code after the password before the session may reach anything
(tenants.middleware.TwoFactorMiddleware). A tenant can require its admins and supervisors to enrol
(TWO_FACTOR_REQUIRED). Enrolment, a reset by a tenant admin and each recovery code used are audited.
"""

import re
import time

from django import forms
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.widgets import UnfoldBooleanSwitchWidget

from tenants import audit
from tenants.models import BACK_OFFICE_ROLES
from tenants.roles import get_membership
from tenants.settings_schema import SettingsSection

TWO_FACTOR_REQUIRED = "two_factor_required"
RECOVERY_CODES = 10
DEVICE_NAME = "Aplicativo autenticador"

# What the session still owes before it may go anywhere else.
VERIFY = "verify"
ENROL = "enrol"

# A TOTP code is six ASCII digits; a recovery code is django-otp's random_token(): 8 lowercase base32 characters.
# Anything else is refused before it reaches a device (int() would take "①" or Arabic-Indic digits).
TOTP_CODE = re.compile(r"[0-9]{6}")
RECOVERY_CODE = re.compile(r"[a-z2-7]{8}")


def normalize_code(value: str) -> str:
    """The code as typed, without the spaces or hyphens people copy along; lowercase (recovery codes)."""
    return re.sub(r"[\s-]", "", value or "").lower()


def has_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def required(user) -> bool:
    """The user's tenant requires a second factor of its admins and supervisors."""
    membership = get_membership(user)
    return (
        membership is not None
        and membership.role in BACK_OFFICE_ROLES
        and membership.tenant.setting(TWO_FACTOR_REQUIRED) is True
    )


# Whether the user had an authenticator app when the session signed in: read from the session on every request
# instead of asking the database (a query on every page). Sessions signed in before it existed ask the database.
# An app enrolled later is enrolled by the user in a session it verifies at once; a reset removes the app, which
# has_device then sees.
OWES_CODE_KEY = "two_factor_owes_code"


def note_sign_in(sender, request, user, **kwargs):
    """user_logged_in: remember in the session whether this sign-in owes a code."""
    session = getattr(request, "session", None)
    if session is not None:
        session[OWES_CODE_KEY] = has_device(user)


def pending_step(user, session) -> str | None:
    """VERIFY when the signed-in session has not given its code yet, ENROL when the tenant requires a second factor
    this user does not have; None when the session may go on. `user` is request.user after OTPMiddleware."""
    if not user.is_authenticated or user.is_verified():
        return None
    if session.get(OWES_CODE_KEY, True) and has_device(user):
        return VERIFY
    if required(user):
        return ENROL
    return None


def provisioning_device(user, key: str) -> TOTPDevice:
    """An unsaved device for the enrolment page's QR code and secret (nothing is stored until it is confirmed)."""
    return TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=False)


def key_matches(key: str, code: str) -> TOTP | None:
    """The app's clock as `code` shows it (one step of drift either way, as a sign-in allows), or None."""
    if not TOTP_CODE.fullmatch(code):
        return None
    totp = TOTP(bytes.fromhex(key))
    totp.time = time.time()
    return totp if totp.verify(int(code), tolerance=1) else None


@transaction.atomic
def enrol(user, key: str, matched: TOTP) -> tuple[TOTPDevice, list[str]]:
    """Confirm the app whose code matched (replacing any previous device) and make new recovery codes."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    # last_t: the code just used to confirm cannot sign in again.
    device = TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, key=key, confirmed=True, last_t=matched.t(), drift=matched.drift
    )
    recovery = StaticDevice.objects.create(user=user, name=_("Códigos de recuperação"), confirmed=True)
    codes = [StaticToken.random_token() for _n in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    _record(user, user, audit.Action.TWO_FACTOR_ENROLLED)
    return device, codes


class Refused(Exception):
    """The code was not accepted; the message says why (throttled or wrong)."""


def verify(user, code: str):
    """The device that accepts `code` (the TOTP app, or the recovery codes, whose code is then used up).

    django-otp throttles each device (1, 2, 4, 8… seconds after each failure in a row, across sign-ins)."""
    code = normalize_code(code)
    if TOTP_CODE.fullmatch(code):
        devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    elif RECOVERY_CODE.fullmatch(code):
        devices = StaticDevice.objects.filter(user=user, confirmed=True)
    else:
        raise Refused(_("Código inválido: digite os 6 números do aplicativo ou um código de recuperação."))
    with transaction.atomic():
        for device in devices.select_for_update():
            allowed, _why = device.verify_is_allowed()
            if not allowed:
                raise Refused(_("Muitos códigos errados seguidos: aguarde alguns segundos e tente de novo."))
            if device.verify_token(code):
                if isinstance(device, StaticDevice):
                    left = device.token_set.count()
                    _record(user, user, audit.Action.RECOVERY_CODE_USED, changes={"códigos restantes": ["", str(left)]})
                return device
    raise Refused(_("Código incorreto ou já usado."))


@transaction.atomic
def reset(user, by) -> bool:
    """Remove the user's second factor (a lost phone); they sign in with the password alone, or enrol again if
    their tenant requires it. False when there was nothing to remove."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    if removed:
        _record(user, by, audit.Action.TWO_FACTOR_RESET)
    return bool(removed)


def _record(user, by, action, changes=None) -> None:
    """On the trail of the user's tenant (a superuser without one has no trail)."""
    membership = get_membership(user)
    if membership is not None:
        audit.record(membership.tenant, by, action, user, changes=changes)


class TwoFactorSection(SettingsSection):
    """The tenant page's switch that makes admins and supervisors enrol before using anything else."""

    title = gettext_lazy("Segurança")

    def clean(self, result, stored):
        value = result.get(TWO_FACTOR_REQUIRED)
        if value is None:
            return {}
        if not isinstance(value, bool):
            return {TWO_FACTOR_REQUIRED: _("Exigir segundo fator: use true ou false.")}
        return {}

    def form_fields(self):
        return {
            TWO_FACTOR_REQUIRED: forms.BooleanField(
                label=gettext_lazy("Exigir segundo fator de administradores e supervisores"),
                required=False,
                widget=UnfoldBooleanSwitchWidget,
                help_text=gettext_lazy(
                    "Ligado: administradores e supervisores só usam o sistema depois de cadastrar um aplicativo "
                    "autenticador (código de 6 números a cada entrada). Operadores podem cadastrar, sem obrigação."
                ),
            )
        }

    def prepare_form(self, form, stored):
        form.initial[TWO_FACTOR_REQUIRED] = stored.get(TWO_FACTOR_REQUIRED) is True
