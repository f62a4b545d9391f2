from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The supervisor's figures: reads every other app, so it sits on top of them all."""

    name = "dashboard"
    verbose_name = _("Painel")

    def ready(self):
        from attendance.services import agreement_withdrawn
        from dashboard.rollups import uncount_agreement

        agreement_withdrawn.connect(lambda sender, agreement, **kwargs: uncount_agreement(agreement), weak=False)
