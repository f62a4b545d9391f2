"""The second factor's pages: the code after the password, and the enrolment (QR code, confirmation, recovery codes).

The rules (who must, what a code is, the audit) are tenants.two_factor's; these pages only ask and answer.
"""

from base64 import b32encode

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME, logout, user_login_failed
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import default_key
from unfold.widgets import BASE_INPUT_CLASSES

from core.views import locked_out
from tenants import two_factor

PENDING_KEY = "two_factor_pending_key"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Código"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "class": " ".join(BASE_INPUT_CLASSES),
                "autocomplete": "one-time-code",
                "autofocus": "",
                "spellcheck": "false",
            }
        ),
    )


def _next_url(request) -> str:
    wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure())
    return wanted if safe and wanted.startswith("/") else resolve_url(settings.LOGIN_REDIRECT_URL)


def _page(request, template, context, status=200):
    context = {
        **admin.site.each_context(request),
        "next": _next_url(request),
        "redirect_field_name": REDIRECT_FIELD_NAME,
        **context,
    }
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def verify(request):
    """After the password: the TOTP code or a recovery code. Wrong codes count as failed logins (django-axes locks
    this user at this address as it would for wrong passwords), besides django-otp's own delay per device."""
    user = request.user
    if two_factor.pending_step(user, request.session) != two_factor.VERIFY:
        return redirect(_next_url(request))
    credentials = {"username": user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        logout(request)
        return locked_out(request, credentials)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify(user, form.cleaned_data["code"])
        except two_factor.Refused as refused:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):
                logout(request)
                return locked_out(request, credentials)
            form.add_error("code", str(refused))
        else:
            # As a right password does: the wrong codes before it no longer count.
            AxesProxyHandler.reset_attempts(ip_address=request.axes_ip_address, username=user.get_username())
            request.session.cycle_key()  # the verified session gets an id the unverified one never showed
            otp_login(request, device)
            return redirect(_next_url(request))
    return _page(request, "registration/two_factor_verify.html", {"form": form, "title": _("Segundo fator")})


@never_cache
@login_required
def setup(request):
    """Enrol an authenticator app: scan the QR code (or type the secret), confirm with a code, keep the recovery
    codes shown once. Nothing is stored before the code matches: the secret waits in the session."""
    user = request.user
    if two_factor.has_device(user):
        return _page(request, "registration/two_factor_setup.html", {"enrolled": True, "title": _("Segundo fator")})
    key = request.session.get(PENDING_KEY) or default_key()
    request.session[PENDING_KEY] = key
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        matched = two_factor.key_matches(key, two_factor.normalize_code(form.cleaned_data["code"]))
        if matched is None:
            form.add_error("code", _("O código não confere: confira o horário do celular e digite o código atual."))
        else:
            device, codes = two_factor.enrol(user, key, matched)
            del request.session[PENDING_KEY]
            request.session.cycle_key()
            otp_login(request, device)
            context = {"codes": codes, "title": _("Códigos de recuperação")}
            return _page(request, "registration/two_factor_recovery_codes.html", context)
    device = two_factor.provisioning_device(user, key)
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "title": _("Segundo fator"),
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#111827", light="#ffffff"),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": two_factor.required(user),
    }
    return _page(request, "registration/two_factor_setup.html", context)
