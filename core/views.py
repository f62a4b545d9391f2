import sys

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.defaults import server_error as default_server_error
from unfold.widgets import BASE_INPUT_CLASSES

from tenants.roles import is_back_office


class LoginForm(AuthenticationForm):
    """Django's login (operators are not staff, so not the admin's form) with the admin's input boxes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)
        self.fields["username"].widget.attrs["autofocus"] = ""


class LoginView(auth_views.LoginView):
    """One login for everyone, in the admin's look; operators cannot use the admin's own login."""

    template_name = "admin/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        context["app_path"] = self.request.get_full_path()
        return context


@login_required
def home(request):
    """Back office to the admin; operators to their workspace."""
    if is_back_office(request.user) and request.user.is_staff:
        return redirect("admin:index")
    return redirect("attendance:home")


def admin_login(request, **kwargs):
    """The admin's login page, where the admin sends whoever may not use it. Someone signed in already (an
    operator opening an admin address) is told "sem permissão" instead of being offered another login."""
    if request.user.is_authenticated and not admin.site.has_permission(request):
        raise PermissionDenied
    return admin.site.login(request, **kwargs)


def locked_out(request, credentials, *args, **kwargs):
    """django-axes: too many failed logins for this user from this address. The login page, with why."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **admin.site.each_context(request),
        "app_path": request.get_full_path(),
        "form": LoginForm(request),
        "lockout_message": _(
            "Muitas tentativas de entrada sem sucesso. Por segurança, este acesso está bloqueado por "
            "%(m)d minutos; tente de novo depois ou peça ao administrador da empresa para liberar."
        )
        % {"m": minutes},
    }
    return render(request, "registration/locked_out.html", context, status=429)


# Seconds a client is asked to wait before trying again while the database is away.
DATABASE_AWAY_RETRY_AFTER = "5"


def server_error(request):
    """handler500: while the database is away (a restart, a failover) the answer is a 503 with Retry-After, which
    the console and 3C Plus retry, instead of a 500 that says something is broken for good."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        # Rendered without the request: a context processor reading the session would meet the same outage.
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = DATABASE_AWAY_RETRY_AFTER
        return response
    return default_server_error(request)
