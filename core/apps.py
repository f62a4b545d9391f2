from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Carteira")

    def ready(self):
        from django.db.backends.signals import connection_created

        from core.observability import redact_every_handler
        from core.search import register_sqlite_fold

        redact_every_handler()
        connection_created.connect(register_sqlite_fold, dispatch_uid="core.search.register_sqlite_fold")
