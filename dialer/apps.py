from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        from core.timeline import register
        from dialer.timeline import calls, exports

        register(exports)
        register(calls)
