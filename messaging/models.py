from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from attendance.models import Message
from core.models import MONEY, Client, ClientStatus, Creditor
from tenants.models import TenantOwned

Channel = Message.Channel


class OptOut(TenantOwned):
    """The debtor asked not to be contacted on a channel ("SAIR", "PARAR"): no chat, no régua on it again."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente"))
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    reason = models.CharField(_("motivo"), max_length=200)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("mensagem")
    )
    created_at = models.DateTimeField(_("desde"), auto_now_add=True)

    class Meta:
        verbose_name = _("canal bloqueado pelo devedor")
        verbose_name_plural = _("canais bloqueados pelos devedores")
        constraints = [models.UniqueConstraint(fields=["tenant", "client", "channel"], name="optout_unique")]

    def __str__(self):
        return f"{self.client} · {self.get_channel_display()}"


class WebhookReceipt(TenantOwned):
    """One provider event handled once: Meta retries a webhook and repeats statuses, so each (kind, id) is kept."""

    key = models.CharField(max_length=250)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="webhook_receipt_unique")]
        indexes = [models.Index(fields=["received_at"], name="webhook_receipt_age")]


class Step(TenantOwned):
    """One step of a creditor's régua: on day `offset_days` from its anchor, send `template` on `channel` to the
    clients who meet its conditions."""

    class Anchor(models.TextChoices):
        DEBT_DUE = "titulo", _("Vencimento do título")
        INSTALLMENT_DUE = "parcela", _("Vencimento da parcela do acordo")
        BREAKAGE = "quebra", _("Quebra do acordo")

    class Kind(models.TextChoices):
        OVERDUE = "atraso", _("Atraso (não vai a quem tem acordo ativo)")
        REMINDER = "lembrete", _("Lembrete")

    creditor = models.ForeignKey(Creditor, on_delete=models.CASCADE, related_name="+", verbose_name=_("credor"))
    name = models.CharField(_("nome"), max_length=100)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.OVERDUE)
    anchor = models.CharField(_("referência"), max_length=10, choices=Anchor.choices, default=Anchor.DEBT_DUE)
    offset_days = models.SmallIntegerField(
        _("dias"), help_text=_("Em relação à referência: -3 é três dias antes, 0 no dia, 7 uma semana depois.")
    )
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices, default=Channel.WHATSAPP)
    template_name = models.CharField(
        _("modelo do WhatsApp"), max_length=512, blank=True, help_text=_("Um modelo aprovado na Meta.")
    )
    template_language = models.CharField(_("idioma do modelo"), max_length=15, default="pt_BR")
    text = models.TextField(
        _("texto"),
        blank=True,
        help_text=_("E-mail e SMS (e as variáveis do modelo do WhatsApp, uma por linha): {nome}, {valor}, {pix}."),
    )
    min_balance = models.DecimalField(_("saldo mínimo"), **MONEY, null=True, blank=True)
    max_balance = models.DecimalField(_("saldo máximo"), **MONEY, null=True, blank=True)
    min_days_overdue = models.PositiveIntegerField(_("atraso mínimo (dias)"), null=True, blank=True)
    max_days_overdue = models.PositiveIntegerField(_("atraso máximo (dias)"), null=True, blank=True)
    statuses = models.JSONField(
        _("situações"), default=list, blank=True, help_text=_("Vazio: em aberto, em negociação e sem contato.")
    )
    active = models.BooleanField(_("ativa"), default=False)
    paused = models.BooleanField(_("pausada"), default=False)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    DEFAULT_STATUSES = (ClientStatus.OPEN, ClientStatus.NEGOTIATING, ClientStatus.NO_CONTACT)

    class Meta:
        verbose_name = _("passo da régua")
        verbose_name_plural = _("régua de cobrança")
        ordering = ["creditor", "anchor", "offset_days", "id"]
        indexes = [models.Index(fields=["tenant", "creditor"], name="step_tenant_creditor")]

    def __str__(self):
        sign = "+" if self.offset_days >= 0 else ""
        return f"{self.name} (D{sign}{self.offset_days}, {self.get_channel_display()})"

    @property
    def running(self) -> bool:
        return self.active and not self.paused

    def balance_ok(self, balance: Decimal) -> bool:
        return (self.min_balance is None or balance >= self.min_balance) and (
            self.max_balance is None or balance <= self.max_balance
        )


class Send(TenantOwned):
    """One régua message to one client on one day: the unique key makes a re-run send nothing twice."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="sends", verbose_name=_("passo"))
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente"))
    day = models.DateField(_("dia"))
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("mensagem")
    )
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("envio da régua")
        verbose_name_plural = _("envios da régua")
        constraints = [models.UniqueConstraint(fields=["step", "client", "day"], name="send_once_per_day")]
        indexes = [
            models.Index(fields=["tenant", "day", "channel", "client"], name="send_tenant_day"),
            models.Index(fields=["client", "-created_at"], name="send_client_recent"),
        ]
