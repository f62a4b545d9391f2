from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Carteira")

    def ready(self):
        from core.observability import redact_every_handler

        redact_every_handler()
