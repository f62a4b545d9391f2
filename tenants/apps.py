from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Empresas e usuários")

    def ready(self):
        from tenants.settings_schema import register_section
        from tenants.two_factor import TwoFactorSection

        register_section(TwoFactorSection())
