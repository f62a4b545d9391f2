from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    """WhatsApp (Meta Cloud API), e-mail and SMS with debtors: the atendimento's chat and the régua per creditor."""

    name = "messaging"
    verbose_name = _("Mensagens e régua")

    def ready(self):
        from core import hooks
        from messaging.settings_admin import WhatsAppSection
        from messaging.timeline import opt_outs
        from tenants.settings_schema import register_section

        register_section(WhatsAppSection())
        hooks.timeline_sources.register(opt_outs)
