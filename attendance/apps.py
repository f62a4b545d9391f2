from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "attendance"
    verbose_name = _("Atendimento")

    def ready(self):
        from attendance import payment_import, timeline
        from attendance.services import callbacks_holding, record_dialer_qualification, schedule_dialer_callback
        from core import hooks, import_jobs
        from core.models import WalletImport

        for source in timeline.SOURCES:
            hooks.timeline_sources.register(source)
        hooks.call_qualified.register(record_dialer_qualification)
        hooks.callback_requested.register(schedule_dialer_callback)
        hooks.dial_holds.register(callbacks_holding)
        hooks.file_kinds[WalletImport.Kind.PAYMENTS] = import_jobs.FileKind(
            payment_import.REQUIRED_COLUMNS, payment_import.run_file_job, "id_pagamento"
        )
