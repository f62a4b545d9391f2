from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Pagamentos")

    def ready(self):
        from attendance.models import Agreement
        from core import hooks
        from payments import charges, signals
        from payments.settings_admin import PaymentsSection
        from tenants.settings_schema import register_section

        register_section(PaymentsSection())
        hooks.installment_charges.register(charges.installment_charges)
        post_save.connect(signals.agreement_saved, sender=Agreement, dispatch_uid="payments_agreement_saved")
