from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "attendance"
    verbose_name = _("Atendimento")

    def ready(self):
        from attendance import timeline
        from attendance.services import record_dialer_qualification, schedule_dialer_callback
        from core.services import call_qualified, callback_requested
        from core.timeline import register

        for source in timeline.SOURCES:
            register(source)
        call_qualified.register(record_dialer_qualification)
        callback_requested.register(schedule_dialer_callback)
