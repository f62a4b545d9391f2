from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("<int:client_id>/chat/", require_http_methods(["GET", "POST"])(views.chat), name="chat"),
    path("<int:client_id>/midia/<int:message_id>/", require_GET(views.media), name="media"),
    path("nao-lidas/", require_GET(views.unread), name="unread"),
]
