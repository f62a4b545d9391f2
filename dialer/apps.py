from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        from core import hooks
        from dialer.holds import ReworkSection
        from dialer.removals import remove_client_from_lists, remove_clients_from_lists
        from dialer.settings_admin import CallingRulesSection, ThreeCPlusSection
        from dialer.timeline import calls, exports, removals
        from tenants.settings_schema import register_section

        hooks.timeline_sources.register(exports)
        hooks.timeline_sources.register(calls)
        hooks.timeline_sources.register(removals)
        hooks.on_stop_calling(remove_client_from_lists, many=remove_clients_from_lists)
        register_section(ThreeCPlusSection())
        register_section(CallingRulesSection())
        register_section(ReworkSection())
