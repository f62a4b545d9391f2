from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        from core.services import on_stop_calling
        from core.timeline import register
        from dialer.services import remove_client_from_lists
        from dialer.settings_admin import ThreeCPlusSection
        from dialer.timeline import calls, exports, removals
        from tenants.settings_schema import register_section

        register(exports)
        register(calls)
        register(removals)
        on_stop_calling(remove_client_from_lists)
        register_section(ThreeCPlusSection())
