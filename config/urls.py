from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.health import healthz
from config.pages import favicon
from core import two_factor_views, views
from dialer import views as dialer_views
from messaging import views as messaging_views

handler500 = "core.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("entrar/", views.LoginView.as_view(), name="login"),
    path("entrar/codigo/", two_factor_views.verify, name="two_factor_verify"),
    path("sair/", auth_views.LogoutView.as_view(), name="logout"),
    path("conta/segundo-fator/", two_factor_views.setup, name="two_factor_setup"),
    path("", include("dashboard.urls")),
    # Before the admin's own: a signed-in user the admin turns away sees "sem permissão", not its login form.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("atendimento/", include("attendance.urls")),
    path("mensagens/", include("messaging.urls")),
    path("mensagens/webhooks/whatsapp/<int:tenant_id>/", messaging_views.whatsapp_webhook, name="whatsapp_webhook"),
    path("mensagens/webhooks/sms/<int:tenant_id>/", messaging_views.sms_status, name="sms_status"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path(dialer_views.WEBHOOK_ROUTE, dialer_views.threecplus_webhook, name="threecplus_webhook"),
    path("", include("payments.urls")),
]

if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # The ESP's tracking webhook (/mensagens/anymail/<esp>/tracking/): only once its shared secret is set.
    urlpatterns += [path("mensagens/anymail/", include("anymail.urls"))]

if settings.DIALER_SANDBOX:
    urlpatterns += [path("", include("sandbox.urls"))]
