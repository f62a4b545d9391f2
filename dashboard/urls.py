"""Admin pages of the dashboard; included before the admin so they share its login and chrome."""

from django.contrib import admin
from django.urls import path

from dashboard import views

urlpatterns = [
    path("admin/painel/operadores.csv", admin.site.admin_view(views.operators_csv), name="dashboard_operators_csv"),
    path("admin/painel/regua/", admin.site.admin_view(views.cadence_results), name="dashboard_cadence"),
    path("admin/painel/ao-vivo/", admin.site.admin_view(views.live_panel), name="dashboard_live"),
    # Beside the export's own admin URL: it is a page of that export.
    path(
        "admin/dialer/dialerexport/<path:object_id>/funil/",
        admin.site.admin_view(views.export_funnel),
        name="dashboard_export_funnel",
    ),
]
