from django.db import models
from django.utils.translation import gettext_lazy as _


class SandboxAccount(models.Model):
    """A company of the in-app sandbox 3C Plus (DEBUG only): its campaigns, lists and contacts as JSON."""

    name = models.CharField(_("empresa no sandbox"), max_length=120, unique=True)
    state = models.JSONField(_("estado"), default=dict)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("empresa do sandbox")
        verbose_name_plural = _("empresas do sandbox")

    def __str__(self):
        return self.name
