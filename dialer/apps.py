from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = _("Discador 3C Plus")

    def ready(self):
        # attendance shows the timeline; the dialer adds its exports to it without attendance importing dialer.
        from attendance import timeline
        from dialer.timeline import exports

        timeline.register(exports)
