from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    """WhatsApp (Meta Cloud API), e-mail and SMS with debtors: the atendimento's chat and the régua per creditor."""

    name = "messaging"
    verbose_name = _("Mensagens e régua")

    def ready(self):
        from anymail.signals import tracking

        from core import hooks
        from messaging.channels import on_email_tracking
        from messaging.settings_admin import SmsSection, WhatsAppSection
        from messaging.timeline import opt_outs
        from tenants.settings_schema import register_section

        register_section(WhatsAppSection())
        register_section(SmsSection())
        tracking.connect(on_email_tracking, dispatch_uid="messaging-email-tracking")
        hooks.timeline_sources.register(opt_outs)
