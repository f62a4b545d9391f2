"""The creditor's monthly statement (prestação de contas): frozen when the month is closed.

An open month is computed from the payments every time it is read (statements.services); closing it stores its
figures here, one line per payment received or reversed, so that a later estorno or a late baixa never changes
a statement the creditor already has: they go to the next open one.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from attendance.models import Payment
from core.models import MONEY, Creditor
from tenants.models import TenantOwned

ZERO = Decimal("0")


class Statement(TenantOwned):
    """A closed month of one creditor: the totals as they were sent (lines in StatementLine)."""

    creditor = models.ForeignKey(Creditor, on_delete=models.PROTECT, related_name="+", verbose_name=_("credor"))
    month = models.DateField(_("mês"), help_text=_("O primeiro dia do mês."))
    received = models.DecimalField(_("recebido"), **MONEY, default=ZERO)
    reversed_amount = models.DecimalField(_("estornado"), **MONEY, default=ZERO)
    principal = models.DecimalField(_("principal"), **MONEY, default=ZERO)
    interest = models.DecimalField(_("juros"), **MONEY, default=ZERO)
    fine = models.DecimalField(_("multa"), **MONEY, default=ZERO)
    fees = models.DecimalField(_("honorários"), **MONEY, default=ZERO)
    credit = models.DecimalField(_("crédito do cliente"), **MONEY, default=ZERO)
    repasse = models.DecimalField(_("repasse devido"), **MONEY, default=ZERO)
    closed_at = models.DateTimeField(_("fechado em"), auto_now_add=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("fechado por"),
    )

    class Meta:
        verbose_name = _("prestação de contas")
        verbose_name_plural = _("prestações de contas")
        ordering = ["-month", "creditor__name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "creditor", "month"], name="statement_one_per_month"),
        ]

    def __str__(self):
        return _("%(c)s — %(m)s") % {"c": self.creditor, "m": self.month.strftime("%m/%Y")}


class StatementLine(models.Model):
    """A payment received (or its reversal) as a closed statement counted it, split in Decimal to the cent."""

    class Kind(models.TextChoices):
        RECEIVED = "recebimento", _("Recebimento")
        REVERSED = "estorno", _("Estorno")

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="+", verbose_name=_("pagamento"))
    kind = models.CharField(_("tipo"), max_length=15, choices=Kind.choices)
    day = models.DateField(_("data"))
    amount = models.DecimalField(_("valor"), **MONEY)
    principal = models.DecimalField(_("principal"), **MONEY)
    interest = models.DecimalField(_("juros"), **MONEY)
    fine = models.DecimalField(_("multa"), **MONEY)
    fees = models.DecimalField(_("honorários"), **MONEY)
    credit = models.DecimalField(_("crédito do cliente"), **MONEY)

    class Meta:
        verbose_name = _("linha da prestação de contas")
        verbose_name_plural = _("linhas da prestação de contas")
        ordering = ["day", "id"]
        # A payment's receipt, and its reversal, are in one closed statement each.
        constraints = [models.UniqueConstraint(fields=["payment", "kind"], name="statement_line_once")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.day:%d/%m/%Y} {self.amount}"
