from django.urls import path

from dialer.sandbox import views as sandbox_views

sandbox_urlpatterns = [
    path("sandbox/3cplus/", sandbox_views.page, name="sandbox"),
    path("sandbox/3cplus/simular-ligacao/", sandbox_views.simulate_call, name="sandbox_simulate"),
    path("sandbox/3cplus/desligar/", sandbox_views.hang_up, name="sandbox_hang_up"),
    path("sandbox/3cplus/api/v1/<path:path>", sandbox_views.api, name="sandbox_api"),
]
