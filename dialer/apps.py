from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        from core import services as core_services
        from core.timeline import register
        from dialer import ports
        from dialer.removals import remove_client_from_lists
        from dialer.same_call import same_call_ids
        from dialer.settings_admin import CallingRulesSection, ThreeCPlusSection
        from dialer.timeline import calls, exports, removals
        from tenants.settings_schema import register_section

        register(exports)
        register(calls)
        register(removals)
        core_services.on_stop_calling(remove_client_from_lists)
        register_section(ThreeCPlusSection())
        register_section(CallingRulesSection())
        core_services.writes_qualifications.provide(ports.writes_qualifications)
        core_services.qualify_call.provide(ports.qualify_call)
        core_services.last_connected_call.provide(ports.last_connected_call)
        core_services.next_connected_call.provide(ports.next_connected_call)
        core_services.connected_calls_pushed.provide(ports.connected_calls_pushed)
        core_services.call_on_line.provide(ports.call_on_line)
        core_services.connected_call_waiter.provide(ports.connected_call_waiter)
        core_services.same_call_ids.provide(same_call_ids)
        core_services.call_entries.provide(ports.call_entries)
        core_services.call_recording.provide(ports.call_recording)
