from django.urls import path

from dialer.sandbox import views as sandbox_views

app_name = "dialer"

sandbox_urlpatterns = [
    path("sandbox/3cplus/", sandbox_views.page, name="sandbox"),
    path("sandbox/3cplus/api/v1/<path:path>", sandbox_views.api, name="sandbox_api"),
]
