from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from attendance.models import AgreementInstallment, Payment
from core.models import MONEY
from tenants.models import TenantOwned


class Charge(TenantOwned):
    """A dynamic PIX (cobv) or a boleto the PSP holds for one agreement installment."""

    class Kind(models.TextChoices):
        PIX = "pix", _("PIX com vencimento")
        BOLETO = "boleto", _("Boleto")

    class Status(models.TextChoices):
        PENDING = "pendente", _("Gerando")
        ACTIVE = "ativa", _("Ativa")
        PAID = "paga", _("Paga")
        CANCELLING = "cancelando", _("Cancelando")
        CANCELLED = "cancelada", _("Cancelada")
        FAILED = "falhou", _("Falhou")

    OPEN_STATUSES = (Status.PENDING, Status.ACTIVE, Status.FAILED)

    installment = models.ForeignKey(
        AgreementInstallment, on_delete=models.CASCADE, related_name="charges", verbose_name=_("parcela")
    )
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices)
    # Ours, chosen before the first call: every retry of the PUT names the same charge at the PSP.
    txid = models.CharField(_("txid / seu número"), max_length=35)
    status = models.CharField(_("situação"), max_length=12, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(_("valor"), **MONEY)
    due_date = models.DateField(_("vencimento"))
    pix_code = models.TextField(_("PIX copia e cola"), blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    boleto_line = models.CharField(_("linha digitável"), max_length=60, blank=True)
    bank_number = models.CharField(_("nosso número"), max_length=30, blank=True)
    error = models.CharField(_("último erro"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    class Meta:
        verbose_name = _("cobrança")
        verbose_name_plural = _("cobranças")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "txid"], name="charge_unique_txid"),
            models.UniqueConstraint(
                fields=["installment", "kind"],
                condition=Q(status__in=["pendente", "ativa", "falhou", "cancelando"]),
                name="charge_one_open_per_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "bank_number"], name="charge_bank_number"),
            models.Index(fields=["status"], name="charge_open", condition=Q(status__in=["pendente", "cancelando"])),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.txid}"


class ReceivedPayment(TenantOwned):
    """Money the PSP or the bank says arrived: stored as it came, then posted (or queued "sem vínculo")."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook PIX")
        PULL = "consulta", _("Consulta de PIX recebidos")
        CNAB = "cnab", _("Retorno CNAB 240")

    class Status(models.TextChoices):
        PENDING = "pendente", _("A lançar")
        POSTED = "lancado", _("Lançado")
        UNMATCHED = "sem_vinculo", _("Sem vínculo")
        REFUND = "devolucao", _("Devolução (a estornar)")
        FAILED = "falhou", _("Não lançado")

    source = models.CharField(_("origem"), max_length=10, choices=Source.choices)
    # endToEndId of a PIX, "DEV:<id>" of a devolução, "BOL:<nosso número>" of a boleto: one row each, ever.
    external_id = models.CharField(_("identificador"), max_length=80)
    txid = models.CharField(_("txid / nosso número"), max_length=35, blank=True)
    amount = models.DecimalField(_("valor"), **MONEY, default=Decimal("0"))
    paid_on = models.DateField(_("data do pagamento"))
    status = models.CharField(_("situação"), max_length=12, choices=Status.choices, default=Status.PENDING)
    charge = models.ForeignKey(
        Charge, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("cobrança")
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("pagamento")
    )
    payer = models.CharField(_("pagador"), max_length=200, blank=True)
    error = models.CharField(_("motivo"), max_length=300, blank=True)
    raw = models.JSONField(_("como chegou"), default=dict)
    received_at = models.DateTimeField(_("recebido em"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolvido por"),
    )
    resolved_at = models.DateTimeField(_("resolvido em"), null=True, blank=True)

    class Meta:
        verbose_name = _("pagamento recebido")
        verbose_name_plural = _("pagamentos recebidos")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="received_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-received_at"], name="received_tenant_status"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.external_id}"


class UnmatchedPayment(ReceivedPayment):
    """The "pagamentos sem vínculo" queue: the same rows, an admin page of their own."""

    class Meta:
        proxy = True
        verbose_name = _("pagamento sem vínculo")
        verbose_name_plural = _("pagamentos sem vínculo")


class PixSync(TenantOwned):
    """How far the reconciliation read the tenant's received PIX (GET /pix), and how it went."""

    watermark = models.DateTimeField(_("lido até"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("última leitura"), null=True, blank=True)
    last_error = models.CharField(_("último erro"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("leitura de PIX recebidos")
        verbose_name_plural = _("leituras de PIX recebidos")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="pixsync_one_per_tenant")]
