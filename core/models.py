import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Exists, F, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Concat, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.parsing import format_cpf, format_phone, parse_cnpj, parse_cpf, parse_phone, phone_is_mobile
from core.search import Fold, client_search_text
from tenants.models import TenantOwned, TenantQuerySet

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
MONEY = {"max_digits": 14, "decimal_places": 2}


class Creditor(TenantOwned):
    """The creditor (credor) whose debts the agency collects, and its negotiation rules."""

    name = models.CharField(_("nome"), max_length=200)
    document = models.CharField(_("CNPJ"), max_length=18, blank=True)
    max_discount_percent = models.DecimalField(
        _("desconto máximo (%)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    max_installments = models.PositiveSmallIntegerField(
        _("máximo de parcelas"), default=1, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    min_installment_amount = models.DecimalField(
        _("parcela mínima (R$)"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    min_entry_percent = models.DecimalField(
        _("entrada mínima (%)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    monthly_interest_percent = models.DecimalField(
        _("juros ao mês (%)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    fine_percent = models.DecimalField(
        _("multa (%)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    fees_percent = models.DecimalField(
        _("honorários (%)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    late_tolerance_days = models.PositiveSmallIntegerField(
        _("tolerância de atraso (dias)"),
        default=5,
        db_default=5,
        validators=[MaxValueValidator(365)],
        help_text=_("Dias de atraso de uma parcela antes de o acordo ser quebrado automaticamente."),
    )
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("credor")
        verbose_name_plural = _("credores")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="creditor_unique_name_per_tenant")]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.document:
            try:
                self.document = parse_cnpj(self.document)
            except ValidationError as error:
                raise ValidationError({"document": error.messages}) from None


class DoNotCallReason(models.TextChoices):
    """Why a client or one of its phones must not be called (the dialer skips them and takes them out of lists)."""

    DEBTOR_REQUEST = "pedido_devedor", _("Pedido do devedor")
    LAWYER = "advogado", _("Advogado")
    DECEASED = "obito", _("Óbito")
    WRONG_NUMBER = "numero_errado", _("Número errado")
    LGPD = "lgpd", _("LGPD")


class DoNotCall(models.Model):
    """ "Não ligar" with its reason, who and when; set through core.services, never cleared silently.

    A phone marked so is also deactivated, so every reader of active phones leaves it out.
    """

    do_not_call_reason = models.CharField(
        _("não ligar"), max_length=20, choices=DoNotCallReason.choices, blank=True, default="", db_default=""
    )
    do_not_call_at = models.DateTimeField(_("não ligar desde"), null=True, blank=True, editable=False)
    do_not_call_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("não ligar marcado por"),
        editable=False,
        db_index=False,
    )

    class Meta:
        abstract = True


class ClientStatus(models.TextChoices):
    OPEN = "em_aberto", _("Em aberto")
    NEGOTIATING = "em_negociacao", _("Em negociação")
    AGREEMENT = "em_acordo", _("Em acordo")
    PAID = "quitado", _("Quitado")
    NO_CONTACT = "sem_contato", _("Sem contato")
    RETURNED = "devolvido", _("Devolvido ao credor")


class ClientQuerySet(TenantQuerySet):
    # search_text follows name and city on every write path: save(), these three, and the import's COPY.
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.search_text = client_search_text(obj.name, obj.city)
        kwargs["update_fields"] = _with_search_text(kwargs.get("update_fields"))
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.search_text = client_search_text(obj.name, obj.city)
        return super().bulk_update(objs, _with_search_text(fields), *args, **kwargs)

    def update(self, **kwargs):
        if ("name" in kwargs or "city" in kwargs) and "search_text" not in kwargs:
            kwargs["search_text"] = search_text_expression(kwargs.get("name", F("name")), kwargs.get("city", F("city")))
        return super().update(**kwargs)

    def refresh_situation(self):
        """The situation follows the money: quitado once every título is paid, em aberto if one reopens.

        Clients in negotiation or in an agreement keep their situation: the agreement decides those.
        """
        has_open = Debt.objects.filter(client=OuterRef("pk"), status__in=[Debt.Status.OPEN, Debt.Status.IN_AGREEMENT])
        has_paid = Debt.objects.filter(client=OuterRef("pk"), status=Debt.Status.PAID)
        paid_off = (
            self.filter(status=ClientStatus.OPEN)
            .filter(Exists(has_paid), ~Exists(has_open))
            .update(status=ClientStatus.PAID)
        )
        reopened = self.filter(status=ClientStatus.PAID).filter(Exists(has_open)).update(status=ClientStatus.OPEN)
        return paid_off, reopened

    def refresh_summaries(self):
        """Recompute the maintained columns (open balance, oldest open due date, main phone).

        The Carteira filters and sorts on them for a million rows, so they are columns, not
        per-row aggregates; every write path to debts or phones calls this for the clients it touched.
        """
        open_debts = Debt.objects.filter(client=OuterRef("pk"), status=Debt.Status.OPEN)
        balance = (
            open_debts.values("client").annotate(total=Sum(F("original_amount") - F("paid_amount"))).values("total")
        )
        oldest = open_debts.values("client").annotate(d=Min("due_date")).values("d")
        active_phones = ClientPhone.objects.filter(client=OuterRef("pk"), active=True)
        phone = active_phones.order_by("priority", "id").values("number")[:1]
        phone_count = active_phones.values("client").annotate(n=Count("pk")).values("n")
        return self.update(
            open_balance=Coalesce(Subquery(balance), Value(Decimal("0")), output_field=models.DecimalField(**MONEY)),
            oldest_due_date=Subquery(oldest),
            main_phone=Coalesce(Subquery(phone), Value("")),
            active_phones=Coalesce(Subquery(phone_count), Value(0)),
        )


class Client(DoNotCall, TenantOwned):
    """One debtor account per creditor (the same person owing two creditors is two clients)."""

    Status = ClientStatus

    # Indexed through (tenant, creditor, oldest_due_date).
    creditor = models.ForeignKey(
        Creditor, on_delete=models.PROTECT, related_name="clients", verbose_name=_("credor"), db_index=False
    )
    name = models.CharField(_("nome"), max_length=200)
    cpf = models.CharField(_("CPF"), max_length=11, help_text=_("Somente os 11 dígitos; a pontuação é aceita."))
    email = models.EmailField(_("e-mail"), blank=True)
    external_id = models.CharField(
        _("código externo"), max_length=64, help_text=_("Código do cliente no credor; chave das reimportações.")
    )
    street = models.CharField(_("logradouro"), max_length=200, blank=True)
    number = models.CharField(_("número"), max_length=20, blank=True)
    complement = models.CharField(_("complemento"), max_length=100, blank=True)
    district = models.CharField(_("bairro"), max_length=100, blank=True)
    city = models.CharField(_("cidade"), max_length=100, blank=True)
    state = models.CharField(_("UF"), max_length=2, blank=True)
    postal_code = models.CharField(_("CEP"), max_length=9, blank=True)
    notes = models.TextField(_("observações"), blank=True)
    status = models.CharField(_("situação"), max_length=20, choices=ClientStatus.choices, default=ClientStatus.OPEN)
    assigned_operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_clients",
        verbose_name=_("operador responsável"),
        db_index=False,  # the partial index below skips the many unassigned clients
    )
    # Maintained by ClientQuerySet.refresh_summaries().
    open_balance = models.DecimalField(_("saldo em aberto"), **MONEY, default=Decimal("0"), editable=False)
    oldest_due_date = models.DateField(_("vencimento mais antigo em aberto"), null=True, blank=True, editable=False)
    main_phone = models.CharField(_("telefone principal"), max_length=20, blank=True, editable=False)
    # Name and city folded (core/search.py): the Carteira's accent- and case-insensitive search reads this column
    # (a trigram index on PostgreSQL, migration 0011). Never edited: see ClientQuerySet and save().
    search_text = models.TextField(_("texto de busca"), blank=True, default="", db_default="", editable=False)
    # Lets "Enviar para discador" count the phones of 100,000 clients in the same aggregate as the rest.
    active_phones = models.PositiveSmallIntegerField(_("telefones ativos"), default=0, editable=False)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("cliente")
        verbose_name_plural = _("clientes")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="client_unique_external_id_per_tenant")
        ]
        indexes = [
            models.Index(fields=["tenant", "id"], name="client_tenant_id"),
            models.Index(fields=["tenant", "cpf"], name="client_tenant_cpf"),
            # Credor + faixa de atraso (+ saldo): the balance and id included, so the count and the keys of a
            # page come from the index alone.
            models.Index(
                fields=["tenant", "creditor", "oldest_due_date"],
                name="client_tenant_creditor_due_bal",
                include=["open_balance", "id"],
            ),
            models.Index(fields=["tenant", "oldest_due_date"], name="client_tenant_due"),
            models.Index(fields=["tenant", "open_balance"], name="client_tenant_balance"),
            models.Index(fields=["tenant", "state", "city"], name="client_tenant_state_city"),
            # The Carteira's sortable columns: ties are broken by id in the column's direction, so one index
            # serves both directions and a sorted page reads 50 index entries instead of sorting the tenant.
            models.Index(fields=["tenant", "name", "id"], name="client_tenant_name"),
            models.Index(fields=["tenant", "status", "id"], name="client_tenant_status"),
            models.Index(fields=["tenant", "creditor", "id"], name="client_tenant_creditor"),
            # The city filter matches case-insensitively (UPPER); ANALYZE keeps statistics on the expression,
            # and the included column lets PostgreSQL count a city from the index alone.
            models.Index(F("tenant"), Upper("city"), name="client_tenant_city_upper", include=["city"]),
            # The few clients marked "não ligar", for the Carteira's filter.
            models.Index(
                fields=["tenant", "id"], name="client_tenant_do_not_call", condition=~models.Q(do_not_call_reason="")
            ),
            # "Sem telefone ativo" is a few percent of a wallet: counted and listed from this small index.
            models.Index(fields=["tenant", "id"], name="client_tenant_no_phone", condition=models.Q(main_phone="")),
            models.Index(
                fields=["assigned_operator"],
                name="client_assigned_operator",
                condition=models.Q(assigned_operator__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.formatted_cpf})"

    def save(self, *args, **kwargs):
        self.search_text = client_search_text(self.name, self.city)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = _with_search_text(kwargs["update_fields"])
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        """The client's atendimento page (the attendance app's URL, found by name: core does not import it)."""
        return reverse("attendance:client", args=[self.pk])

    @property
    def formatted_cpf(self) -> str:
        return format_cpf(self.cpf)

    @property
    def days_overdue(self) -> int:
        if not self.oldest_due_date:
            return 0
        return max((timezone.localdate() - self.oldest_due_date).days, 0)

    def clean(self):
        super().clean()
        if self.cpf:
            try:
                self.cpf = parse_cpf(self.cpf)
            except ValidationError as error:
                raise ValidationError({"cpf": error.messages}) from None
        self.state = (self.state or "").upper()


def _with_search_text(fields):
    """The fields of a partial write, with search_text when name or city is among them."""
    if fields is None or not {"name", "city"}.intersection(fields) or "search_text" in fields:
        return fields
    return [*fields, "search_text"]


def search_text_expression(name, city):
    """search_text computed in the database from `name` and `city` (values or expressions), as
    client_search_text() computes it in Python."""
    if isinstance(name, str) and isinstance(city, str):
        return client_search_text(name, city)
    name, city = (Value(v) if isinstance(v, str) else v for v in (name, city))
    return Concat(Fold(name), Value(" "), Fold(city), output_field=models.TextField())


class ClientPhone(DoNotCall, TenantOwned):
    class Kind(models.TextChoices):
        MOBILE = "celular", _("Celular")
        LANDLINE = "fixo", _("Fixo")

    class DeactivationReason(models.TextChoices):
        WRONG_CONTACT = "contato_incorreto", _("Contato incorreto")
        INVALID = "invalido", _("Número inválido")
        DO_NOT_CALL = "nao_ligar", _("Cliente pediu para não ligar")
        OTHER = "outro", _("Outro")

    # Indexed by the (client, number) unique constraint.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="phones", verbose_name=_("cliente"), db_index=False
    )
    number = models.CharField(_("número"), max_length=20, help_text=_("Qualquer formato; gravado em E.164 (+55…)."))
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, blank=True)
    whatsapp = models.BooleanField(_("WhatsApp"), default=False)
    active = models.BooleanField(_("ativo"), default=True)
    deactivation_reason = models.CharField(
        _("motivo da desativação"), max_length=20, choices=DeactivationReason.choices, blank=True
    )
    priority = models.PositiveSmallIntegerField(_("prioridade"), default=1, help_text=_("1 é discado primeiro."))

    class Meta:
        verbose_name = _("telefone")
        verbose_name_plural = _("telefones")
        ordering = ["priority", "id"]
        constraints = [models.UniqueConstraint(fields=["client", "number"], name="phone_unique_per_client")]
        indexes = [
            models.Index(fields=["tenant", "number"], name="phone_tenant_number"),
            # The few phones marked "não ligar", found without reading millions of phones.
            models.Index(
                fields=["tenant", "client"], name="phone_do_not_call", condition=~models.Q(do_not_call_reason="")
            ),
        ]

    def __str__(self):
        return format_phone(self.number)

    @property
    def formatted(self) -> str:
        return format_phone(self.number)

    def clean(self):
        super().clean()
        try:
            self.number = parse_phone(self.number)
        except ValidationError as error:
            raise ValidationError({"number": error.messages}) from None
        if not self.kind:
            self.kind = self.Kind.MOBILE if phone_is_mobile(self.number) else self.Kind.LANDLINE
        if self.do_not_call_reason:
            self.active = False
            self.deactivation_reason = phone_deactivation_for(self.do_not_call_reason)
        if self.active:
            self.deactivation_reason = ""
        elif not self.deactivation_reason:
            raise ValidationError({"deactivation_reason": _("Informe por que o telefone foi desativado.")})


def phone_deactivation_for(reason: str) -> str:
    """The deactivation a "não ligar" reason implies for a phone."""
    if reason == DoNotCallReason.WRONG_NUMBER:
        return ClientPhone.DeactivationReason.WRONG_CONTACT
    return ClientPhone.DeactivationReason.DO_NOT_CALL


class Debt(TenantOwned):
    """A título/parcela owed by the client."""

    class Status(models.TextChoices):
        OPEN = "aberto", _("Em aberto")
        PAID = "pago", _("Pago")
        IN_AGREEMENT = "em_acordo", _("Em acordo")
        CANCELLED = "cancelado", _("Cancelado")

    # Indexed by the (client, contract, installment) unique constraint.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="debts", verbose_name=_("cliente"), db_index=False
    )
    contract_code = models.CharField(_("contrato"), max_length=64)
    installment_number = models.PositiveSmallIntegerField(_("parcela"), default=1)
    installment_total = models.PositiveSmallIntegerField(_("total de parcelas"), default=1)
    due_date = models.DateField(_("vencimento"))
    original_amount = models.DecimalField(_("valor original"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    paid_amount = models.DecimalField(
        _("valor pago"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.OPEN)

    class Meta:
        verbose_name = _("título")
        verbose_name_plural = _("títulos")
        ordering = ["due_date", "installment_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "contract_code", "installment_number"], name="debt_unique_installment"
            )
        ]

    def __str__(self):
        return f"{self.contract_code} {self.installment_number}/{self.installment_total}"

    @property
    def open_amount(self) -> Decimal:
        return self.original_amount - self.paid_amount

    @property
    def days_overdue(self) -> int:
        return max((timezone.localdate() - self.due_date).days, 0) if self.due_date else 0

    def clean(self):
        super().clean()
        if (
            self.paid_amount is not None
            and self.original_amount is not None
            and self.paid_amount > self.original_amount
        ):
            raise ValidationError({"paid_amount": _("O valor pago não pode ser maior que o valor original.")})
        if self.installment_number and self.installment_total and self.installment_number > self.installment_total:
            raise ValidationError({"installment_number": _("A parcela não pode ser maior que o total de parcelas.")})


AGING_BUCKETS = [
    # (key, label, min days overdue, max days overdue); a vencer = oldest open debt not yet due.
    ("a_vencer", _("A vencer"), None, 0),
    ("1_30", _("1–30 dias"), 1, 30),
    ("31_60", _("31–60 dias"), 31, 60),
    ("61_90", _("61–90 dias"), 61, 90),
    ("91_180", _("91–180 dias"), 91, 180),
    ("181_360", _("181–360 dias"), 181, 360),
    ("360_mais", _("Mais de 360 dias"), 361, None),
]


def aging_filter(key: str, today: datetime.date | None = None) -> models.Q | None:
    """The Q of a bucket, as a range on the indexed oldest open due date."""
    today = today or timezone.localdate()
    for bucket_key, _label, low, high in AGING_BUCKETS:
        if bucket_key != key:
            continue
        q = models.Q(oldest_due_date__isnull=False)
        if bucket_key == "a_vencer":
            return q & models.Q(oldest_due_date__gte=today)
        if low is not None:
            q &= models.Q(oldest_due_date__lte=today - datetime.timedelta(days=low))
        if high is not None:
            q &= models.Q(oldest_due_date__gte=today - datetime.timedelta(days=high))
        return q
    return None


class WorkerHeartbeat(models.Model):
    """Each running `manage.py db_worker` says it is alive every few seconds; /healthz reads this."""

    worker_id = models.CharField(_("worker"), max_length=64, unique=True)
    hostname = models.CharField(_("máquina"), max_length=200)
    pid = models.PositiveIntegerField(_("processo"))
    started_at = models.DateTimeField(_("início"))
    last_seen = models.DateTimeField(_("último sinal"), db_index=True)

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")

    def __str__(self):
        return f"{self.worker_id} ({self.hostname}:{self.pid})"


class WalletImport(TenantOwned):
    """One Carteira import sent from the admin: the file is kept in the database and a worker imports it.

    Any worker, on any machine, can run it (they share only the database); the page follows it by polling.
    """

    class Status(models.TextChoices):
        QUEUED = "na_fila", _("Na fila")
        RUNNING = "importando", _("Importando")
        DONE = "concluida", _("Concluída")
        FAILED = "falhou", _("Falhou")

    class Kind(models.TextChoices):
        WALLET = "carteira", _("Carteira")
        PAYMENTS = "pagamentos", _("Pagamentos")

    FINISHED = (Status.DONE, Status.FAILED)

    # What the file holds: the Carteira's clients or a bank's payments (core.hooks.file_kinds imports each).
    kind = models.CharField(_("tipo"), max_length=20, choices=Kind.choices, default=Kind.WALLET, db_default="carteira")
    file_name = models.CharField(_("arquivo"), max_length=255)
    file_format = models.CharField(_("formato"), max_length=10, default="csv")
    file_size = models.PositiveBigIntegerField(_("tamanho (bytes)"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("enviada por"),
    )
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(_("linhas no arquivo"), null=True, blank=True)
    processed_rows = models.PositiveIntegerField(_("linhas lidas"), default=0)
    imported_rows = models.PositiveIntegerField(_("linhas importadas"), default=0)
    error_rows = models.PositiveIntegerField(_("linhas com erro"), default=0)
    # Imported with something skipped (a bad phone), reported beside the errors.
    warning_rows = models.PositiveIntegerField(_("linhas com aviso"), default=0, db_default=0)
    failure = models.TextField(_("motivo da falha"), blank=True)
    created_at = models.DateTimeField(_("enviada em"), auto_now_add=True)
    started_at = models.DateTimeField(_("início"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fim"), null=True, blank=True)
    # The run's lease: renewed as rows go; a running import whose lease ran out lost its worker.
    heartbeat_at = models.DateTimeField(_("última atividade"), null=True, blank=True)

    class Meta:
        verbose_name = _("importação da carteira")
        verbose_name_plural = _("importações da carteira")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="wallet_import_tenant_created")]

    def __str__(self):
        return _("Importação #%(id)s — %(file)s") % {"id": self.pk, "file": self.file_name}

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class WalletImportChunk(TenantOwned):
    """A piece of an import's uploaded file (the worker that runs it may be on another machine)."""

    wallet_import = models.ForeignKey(WalletImport, on_delete=models.CASCADE, related_name="chunks", db_index=False)
    sequence = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "wallet_import", "sequence"], name="wallet_import_chunk_unique_sequence"
            )
        ]


class WalletImportError(TenantOwned):
    """A row an import refused, with why: the downloadable error report."""

    wallet_import = models.ForeignKey(WalletImport, on_delete=models.CASCADE, related_name="errors", db_index=False)
    line = models.PositiveIntegerField(_("linha"))
    external_id = models.TextField(_("external_id"), blank=True)
    message = models.TextField(_("erro"))

    class Meta:
        verbose_name = _("erro de importação")
        verbose_name_plural = _("erros de importação")
        indexes = [models.Index(fields=["tenant", "wallet_import", "line"], name="wallet_import_error_line")]
