from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Empresas e usuários")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from tenants.agency_settings import AgencySection
        from tenants.pix_settings import PixSection
        from tenants.settings_schema import register_section
        from tenants.two_factor import TwoFactorSection, note_sign_in

        register_section(TwoFactorSection())
        register_section(PixSection())
        register_section(AgencySection())
        user_logged_in.connect(note_sign_in, dispatch_uid="two_factor_note_sign_in")
