from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        from core.services import on_stop_calling
        from core.timeline import register
        from dialer.exports import remove_client_from_lists
        from dialer.timeline import calls, exports, removals

        register(exports)
        register(calls)
        register(removals)
        on_stop_calling(remove_client_from_lists)
