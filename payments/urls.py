from django.urls import path

from payments import views

urlpatterns = [
    # The PSP calls the registered URL with "/pix" appended (API Pix); the bare URL answers too (a test by hand).
    path("pagamentos/webhook/<str:secret>/", views.pix_webhook, name="pix_webhook"),
    path("pagamentos/webhook/<str:secret>/pix", views.pix_webhook, name="pix_webhook_pix"),
]
