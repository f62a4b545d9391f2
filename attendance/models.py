import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from common.parsing import format_brl
from core.models import MONEY, Client, ClientPhone, Creditor, Debt
from dialer.types import DispositionBehavior
from tenants.models import Tenant, TenantOwned


class DispositionType(models.Model):
    """A tabulação option. The five standard ones are global (no tenant); a tenant may add its own."""

    Behavior = DispositionBehavior

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("empresa"),
        help_text=_("Vazio: disponível para todas as empresas."),
    )
    name = models.CharField(_("nome"), max_length=80)
    behavior = models.CharField(_("comportamento"), max_length=30, choices=Behavior.choices, default=Behavior.OTHER)
    order = models.PositiveSmallIntegerField(_("ordem"), default=100)
    active = models.BooleanField(_("ativo"), default=True)
    # The right-party contact rate counts tabulações of these types: the operator spoke to the debtor.
    debtor_contact = models.BooleanField(
        _("contato com o devedor"),
        default=False,
        db_default=False,
        help_text=_("Marque se esta tabulação significa que o operador falou com o próprio devedor."),
    )

    class Meta:
        verbose_name = _("tipo de tabulação")
        verbose_name_plural = _("tipos de tabulação")
        ordering = ["order", "name"]

    def __str__(self):
        return self.name

    @classmethod
    def visible_to(cls, tenant):
        """The global types and the tenant's own, inactive ones too (old tabulações still carry them)."""
        return cls.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant))

    @classmethod
    def available_to(cls, tenant):
        return cls.visible_to(tenant).filter(active=True)


class CallDisposition(TenantOwned):
    """A tabulação: what the operator recorded about one contact attempt (the seed's call_dispositions)."""

    Type = DispositionType.Behavior

    class QualificationStatus(models.TextChoices):
        NOT_APPLICABLE = "", _("—")
        PENDING = "pendente", _("Enviando ao 3C Plus")
        SENT = "enviada", _("Enviada ao 3C Plus")
        FAILED = "falhou", _("Falhou")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="dispositions", verbose_name=_("cliente"))
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dispositions", verbose_name=_("operador")
    )
    type = models.ForeignKey(DispositionType, on_delete=models.PROTECT, verbose_name=_("tabulação"))
    notes = models.TextField(_("observações"), blank=True)
    phone = models.ForeignKey(
        ClientPhone, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("telefone")
    )
    call_id = models.CharField(_("ID da ligação"), max_length=120, blank=True)
    callback_at = models.DateTimeField(_("retornar em"), null=True, blank=True)
    callback_done = models.BooleanField(_("retorno feito"), default=False)
    qualification_status = models.CharField(
        _("qualificação no 3C Plus"), max_length=10, choices=QualificationStatus.choices, blank=True, default=""
    )
    qualification_error = models.TextField(_("erro da qualificação"), blank=True)
    qualification_attempts = models.PositiveSmallIntegerField(_("tentativas de qualificação"), default=0)
    qualification_sent_at = models.DateTimeField(_("qualificação enviada em"), null=True, blank=True)
    # Set while a worker posts the qualification (its lease): a second run of the same write-back finds it taken
    # instead of posting again, and no transaction or row lock is held across the POST.
    qualification_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # One per submitted form: a double click or a resubmission finds the first record instead of a second.
    submission_token = models.UUIDField(default=uuid.uuid4, editable=False)
    # "Alterar": the call's tabulação changed after the fact (one per call); the timeline says from what and when.
    changed_from = models.CharField(_("tabulação anterior"), max_length=100, blank=True, default="", db_default="")
    changed_at = models.DateTimeField(_("alterada em"), null=True, blank=True)
    created_at = models.DateTimeField(_("registrado em"), auto_now_add=True, db_index=False)

    class Meta:
        verbose_name = _("tabulação")
        verbose_name_plural = _("tabulações")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "submission_token"], name="disposition_unique_submission")
        ]
        indexes = [
            # The client's timeline pages through its tabulações newest first: with the id in the key, a page is
            # one index range whatever the client's history, ties on the time included.
            models.Index(fields=["client", "-created_at", "-id"], name="disposition_client_recent"),
            # Whether a call already has its tabulação (one qualification per call), among the client's many.
            models.Index(fields=["client", "call_id"], name="disposition_client_call"),
            # The dashboard reads today's tabulações live and rolls up each closed day.
            models.Index(fields=["tenant", "created_at"], name="disposition_tenant_created"),
            models.Index(
                fields=["tenant", "operator", "callback_at"],
                name="disposition_callbacks",
                condition=Q(callback_at__isnull=False, callback_done=False),
            ),
        ]

    def __str__(self):
        return f"{self.type} — {self.client}"


class Agreement(TenantOwned):
    """An acordo: the negotiated total, its entry and installments, within or beyond the creditor's rules."""

    class Status(models.TextChoices):
        ACTIVE = "ativo", _("Ativo")
        PENDING_APPROVAL = "aguardando_aprovacao", _("Aguardando aprovação")
        REJECTED = "rejeitado", _("Rejeitado")
        CANCELLED = "cancelado", _("Cancelado")
        COMPLETED = "quitado", _("Quitado")
        BROKEN = "quebrado", _("Quebrado")

    OPEN_STATUSES = (Status.ACTIVE, Status.PENDING_APPROVAL)

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="agreements", verbose_name=_("cliente"))
    creditor = models.ForeignKey(Creditor, on_delete=models.PROTECT, related_name="+", verbose_name=_("credor"))
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("operador")
    )
    status = models.CharField(_("situação"), max_length=30, choices=Status.choices)
    debts = models.ManyToManyField(Debt, related_name="agreements", verbose_name=_("títulos"), blank=True)
    principal = models.DecimalField(_("saldo devedor"), **MONEY)
    interest = models.DecimalField(_("juros"), **MONEY, default=Decimal("0"))
    fine = models.DecimalField(_("multa"), **MONEY, default=Decimal("0"))
    fees = models.DecimalField(_("honorários"), **MONEY, default=Decimal("0"), db_default=Decimal("0"))
    discount_percent = models.DecimalField(_("desconto (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(_("desconto (R$)"), **MONEY, default=Decimal("0"))
    total = models.DecimalField(_("total do acordo"), **MONEY)
    entry_amount = models.DecimalField(_("entrada"), **MONEY, default=Decimal("0"))
    installments_count = models.PositiveSmallIntegerField(_("parcelas"))
    first_due_date = models.DateField(_("primeiro vencimento"))
    approval_reasons = models.JSONField(_("motivos da aprovação"), default=list, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decidido por"),
    )
    decided_at = models.DateTimeField(_("decidido em"), null=True, blank=True)
    decision_note = models.TextField(_("observação da decisão"), blank=True)
    # Why the operator proposes terms beyond the creditor's rules: what the supervisor decides on.
    justification = models.TextField(_("justificativa do operador"), blank=True, default="", db_default="")
    closed_at = models.DateTimeField(_("encerrado em"), null=True, blank=True)
    close_reason = models.TextField(_("motivo do encerramento"), blank=True, default="", db_default="")
    call_id = models.CharField(_("ID da ligação"), max_length=120, blank=True)
    submission_token = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("acordo")
        verbose_name_plural = _("acordos")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["ativo", "aguardando_aprovacao"]),
                name="agreement_one_open_per_client",
            ),
            models.UniqueConstraint(fields=["tenant", "submission_token"], name="agreement_unique_submission"),
        ]
        indexes = [
            models.Index(fields=["client", "-created_at", "-id"], name="agreement_client_recent"),
            # When the client's agreements ended (quitado, quebrado), on its timeline.
            models.Index(
                fields=["client", "-closed_at", "-id"],
                name="agreement_client_closed",
                condition=Q(closed_at__isnull=False),
            ),
            models.Index(fields=["tenant", "status", "-created_at"], name="agreement_tenant_status"),
            # The dashboard: the agreements of the last minutes, and the approval figures over its period.
            models.Index(fields=["tenant", "created_at"], name="agreement_tenant_created"),
            models.Index(
                fields=["tenant", "created_at"],
                include=["status", "creditor", "operator", "client"],
                condition=~Q(approval_reasons=[]),
                name="agreement_beyond_rules",
            ),
        ]

    def __str__(self):
        return _("Acordo #%(id)s — %(client)s") % {"id": self.pk, "client": self.client}

    def plan_display(self) -> str:
        """ "R$ 5.836,48: entrada de R$ 500,00 + 3 parcelas", as the atendimento's header and timeline say it."""
        count = self.installments_count
        installments = ngettext("%(n)s parcela", "%(n)s parcelas", count) % {"n": count}
        if self.entry_amount:
            entry = format_brl(self.entry_amount)
            installments = gettext("entrada de %(e)s + %(rest)s") % {"e": entry, "rest": installments}
        return gettext("%(total)s: %(plan)s") % {"total": format_brl(self.total), "plan": installments}


class PaymentMethod(models.TextChoices):
    PIX = "pix", _("PIX")
    BOLETO = "boleto", _("Boleto")
    TRANSFER = "transferencia", _("Transferência")
    CARD = "cartao", _("Cartão")
    CASH = "dinheiro", _("Dinheiro")
    OTHER = "outro", _("Outro")


class AgreementInstallment(models.Model):
    class Status(models.TextChoices):
        OPEN = "em_aberto", _("Em aberto")
        PAID = "paga", _("Paga")

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="installments", verbose_name=_("acordo")
    )
    number = models.PositiveSmallIntegerField(_("parcela"), help_text=_("0 é a entrada."))
    due_date = models.DateField(_("vencimento"))
    amount = models.DecimalField(_("valor"), **MONEY)
    status = models.CharField(
        _("situação"), max_length=10, choices=Status.choices, default=Status.OPEN, db_default="em_aberto"
    )
    paid_amount = models.DecimalField(_("valor pago"), **MONEY, default=Decimal("0"), db_default=Decimal("0"))
    paid_on = models.DateField(_("paga em"), null=True, blank=True)
    payment_method = models.CharField(
        _("forma de pagamento"), max_length=15, choices=PaymentMethod.choices, blank=True, default="", db_default=""
    )

    class Meta:
        verbose_name = _("parcela do acordo")
        verbose_name_plural = _("parcelas do acordo")
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["agreement", "number"], name="installment_unique_number")]
        indexes = [
            # The daily breakage scan reads only the open installments, by due date.
            models.Index(fields=["due_date"], name="installment_open_due", condition=Q(status="em_aberto")),
        ]

    def __str__(self):
        return str(_("Entrada") if self.number == 0 else _("Parcela %(n)s") % {"n": self.number})

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.paid_amount

    def is_overdue(self, today) -> bool:
        # due_date is None on an installment a rejected admin form is drawing again
        return self.status == self.Status.OPEN and self.due_date is not None and self.due_date < today

    def situation(self, today) -> str:
        """Em aberto, paga or atrasada: lateness is a fact of the calendar, not a stored state."""
        if self.is_overdue(today):
            return str(_("Atrasada"))
        return self.get_status_display()


class ReversalKind(models.TextChoices):
    PIX_REFUND = "devolucao_pix", _("Devolução PIX")
    CHARGEBACK = "chargeback", _("Chargeback")
    MANUAL_ERROR = "erro_manual", _("Erro manual")


class Payment(TenantOwned):
    """Money received from the client, against one agreement installment or one título.

    Payments live beside agreements (not in core) because they settle installments, and the wallet
    does not know agreements.
    """

    Method = PaymentMethod
    ReversalKind = ReversalKind

    class Source(models.TextChoices):
        MANUAL = "manual", _("Baixa manual")
        IMPORT = "arquivo", _("Arquivo")
        PROVIDER = "provedor", _("Provedor de pagamentos")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="payments", verbose_name=_("cliente"))
    installment = models.ForeignKey(
        AgreementInstallment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("parcela do acordo"),
    )
    debt = models.ForeignKey(
        Debt, on_delete=models.PROTECT, null=True, blank=True, related_name="payments", verbose_name=_("título")
    )
    paid_on = models.DateField(_("data do pagamento"))
    amount = models.DecimalField(_("valor"), **MONEY)
    credit_amount = models.DecimalField(
        _("excedente em crédito"),
        **MONEY,
        default=Decimal("0"),
        help_text=_("Parte do valor acima do saldo, aceita como crédito do cliente."),
    )
    method = models.CharField(_("forma"), max_length=15, choices=PaymentMethod.choices, default=PaymentMethod.OTHER)
    source = models.CharField(_("origem"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(
        _("ID do pagamento"),
        max_length=80,
        blank=True,
        help_text=_("Chave das reimportações do arquivo de pagamentos."),
    )
    # One per submitted baixa form: a double click or a resubmission finds the first payment instead of a second.
    submission_token = models.UUIDField(null=True, blank=True, editable=False)
    notes = models.TextField(_("observações"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrado por"),
    )
    created_at = models.DateTimeField(_("registrado em"), auto_now_add=True)
    # An estorno keeps the payment (the money did arrive, then left): these say when, why and by whom.
    reversed_at = models.DateTimeField(_("estornado em"), null=True, blank=True)
    reversal_kind = models.CharField(
        _("tipo de estorno"), max_length=15, choices=ReversalKind.choices, blank=True, default="", db_default=""
    )
    reversal_reason = models.TextField(_("motivo do estorno"), blank=True, default="", db_default="")
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("estornado por"),
        db_index=False,  # never looked up by who reversed: no index to build over a million payments
    )

    class Meta:
        verbose_name = _("pagamento")
        verbose_name_plural = _("pagamentos")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="payment_unique_external_id"
            ),
            models.UniqueConstraint(
                fields=["tenant", "submission_token"],
                condition=Q(submission_token__isnull=False),
                name="payment_unique_submission",
            ),
            models.CheckConstraint(
                condition=Q(installment__isnull=True) | Q(debt__isnull=True), name="payment_one_target"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-paid_on"], name="payment_client_paid"),
            # The client's timeline shows payments by when they were recorded.
            models.Index(fields=["client", "-created_at", "-id"], name="payment_client_created"),
        ]

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None

    @property
    def applied_amount(self) -> Decimal:
        """What the payment settled on its target (the rest is the client's credit)."""
        return self.amount - self.credit_amount

    def __str__(self):
        return _("Pagamento de %(v)s em %(d)s") % {"v": format_brl(self.amount), "d": self.paid_on.strftime("%d/%m/%Y")}


class Message(TenantOwned):
    """A message with the client on one channel: WhatsApp (imported history, the atendimento's chat, the régua),
    e-mail or SMS. Sending and receiving live in the messaging app; this is the conversation both read."""

    class Channel(models.TextChoices):
        WHATSAPP = "whatsapp", _("WhatsApp")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Direction(models.TextChoices):
        INBOUND = "recebida", _("Recebida")
        OUTBOUND = "enviada", _("Enviada")

    class Status(models.TextChoices):
        QUEUED = "na_fila", _("Enviando")
        RECEIVED = "recebida", _("Recebida")
        SENT = "enviada", _("Enviada")
        DELIVERED = "entregue", _("Entregue")
        READ = "lida", _("Lida")
        FAILED = "falhou", _("Falhou")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="messages", verbose_name=_("cliente"))
    channel = models.CharField(
        _("canal"), max_length=10, choices=Channel.choices, default=Channel.WHATSAPP, db_default=Channel.WHATSAPP
    )
    direction = models.CharField(_("direção"), max_length=10, choices=Direction.choices)
    body = models.TextField(_("mensagem"))
    sent_at = models.DateTimeField(_("data e hora"))
    status = models.CharField(_("situação"), max_length=10, choices=Status.choices, default=Status.SENT)
    phone = models.CharField(_("telefone"), max_length=20, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("autor"),
    )
    # The provider's id (WhatsApp's wamid, the ESP's or the SMS gateway's): statuses and replies find it by this.
    external_id = models.CharField(_("identificador no canal"), max_length=200, blank=True, default="", db_default="")
    # A WhatsApp template as sent: {"name", "language", "parameters"} (None: free text).
    template = models.JSONField(_("modelo"), null=True, blank=True)
    media_type = models.CharField(_("tipo de mídia"), max_length=20, blank=True, default="", db_default="")
    media_id = models.CharField(_("mídia no canal"), max_length=200, blank=True, default="", db_default="")
    error = models.CharField(_("erro"), max_length=300, blank=True, default="", db_default="")
    seen_at = models.DateTimeField(_("vista pelo operador em"), null=True, blank=True)

    class Meta:
        verbose_name = _("mensagem")
        verbose_name_plural = _("mensagens")
        ordering = ["sent_at", "id"]
        indexes = [
            # The chat and the timeline read the client's newest messages.
            models.Index(fields=["client", "-sent_at", "-id"], name="message_client_recent"),
            # A delivery status or a reply finds its message by the provider's id.
            models.Index(
                fields=["tenant", "external_id"], name="message_external_id", condition=~models.Q(external_id="")
            ),
            # The console's unread counts: the few inbound messages nobody has seen yet.
            models.Index(
                fields=["tenant", "client"],
                name="message_unseen",
                condition=models.Q(direction="recebida", seen_at__isnull=True),
            ),
            # The régua's "already contacted today on this channel", for the whole tenant at once.
            models.Index(fields=["tenant", "sent_at"], name="message_tenant_sent"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.sent_at:%d/%m/%Y %H:%M}"


class ClientAccessLog(TenantOwned):
    """Who opened which client's page, or listened to one of its calls, and when: LGPD accountability."""

    class Kind(models.TextChoices):
        PAGE = "pagina", _("Página do cliente")
        RECORDING = "gravacao", _("Gravação da ligação")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("usuário")
    )
    accessed_at = models.DateTimeField(_("acessado em"), auto_now_add=True)
    call_id = models.CharField(_("ID da ligação"), max_length=120, blank=True)
    kind = models.CharField(_("acesso a"), max_length=10, choices=Kind.choices, default=Kind.PAGE, db_default=Kind.PAGE)

    class Meta:
        verbose_name = _("acesso a cliente")
        verbose_name_plural = _("acessos a clientes")
        ordering = ["-accessed_at"]
        indexes = [
            models.Index(fields=["tenant", "-accessed_at"], name="access_tenant_time"),
            models.Index(fields=["client", "-accessed_at"], name="access_client_time"),
        ]

    def __str__(self):
        return f"{self.user} → {self.client} ({self.accessed_at:%d/%m/%Y %H:%M})"
