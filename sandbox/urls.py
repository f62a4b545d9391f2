from django.urls import path

from sandbox import pix_views, views, whatsapp_views

# Mounted by config/urls.py only when DIALER_SANDBOX is on (the app is installed only then).
urlpatterns = [
    path("sandbox/3cplus/", views.page, name="sandbox"),
    path("sandbox/3cplus/simular-ligacao/", views.simulate_call, name="sandbox_simulate"),
    path("sandbox/3cplus/desligar/", views.hang_up, name="sandbox_hang_up"),
    path("sandbox/3cplus/relogio/", views.advance_clock, name="sandbox_advance"),
    path("sandbox/3cplus/api/v1/<path:path>", views.api, name="sandbox_api"),
    path("sandbox/psp/", pix_views.page, name="sandbox_psp"),
    path("sandbox/psp/pagar/", pix_views.pay, name="sandbox_psp_pay"),
    path("sandbox/psp/retorno-cnab/", pix_views.cnab, name="sandbox_psp_cnab"),
    path("sandbox/psp/api/<path:path>", pix_views.api, name="sandbox_psp_api"),
    path("sandbox/whatsapp/", whatsapp_views.page, name="sandbox_whatsapp"),
    path("sandbox/whatsapp/responder/", whatsapp_views.reply, name="sandbox_whatsapp_reply"),
    path("sandbox/whatsapp/situacao/", whatsapp_views.advance, name="sandbox_whatsapp_advance"),
    path("sandbox/whatsapp/graph/<path:path>", whatsapp_views.api, name="sandbox_whatsapp_api"),
]
