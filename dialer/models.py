from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import MONEY, Client, DoNotCallReason
from dialer.calling_rules import ALL_UFS, city_key
from dialer.types import DispositionBehavior
from tenants.models import TenantOwned


class DialerExport(TenantOwned):
    """One "Enviar para discador": a frozen selection of clients sent to a 3C Plus list by a task."""

    class Status(models.TextChoices):
        PREPARING = "preparando", _("Preparando")  # the worker is freezing the selection into items
        QUEUED = "na_fila", _("Na fila")
        RUNNING = "enviando", _("Enviando")
        PAUSED = "pausado", _("Pausado")  # 3C Plus failing for now: resumes by itself at next_attempt_at
        DONE = "concluido", _("Concluído")
        PARTIAL = "parcial", _("Concluído com falhas")
        FAILED = "falhou", _("Falhou")

    FINISHED = (Status.DONE, Status.PARTIAL, Status.FAILED)

    campaign_id = models.PositiveBigIntegerField(_("campanha (ID)"))
    campaign_name = models.CharField(_("campanha"), max_length=200, blank=True)
    list_name = models.CharField(_("nome da lista"), max_length=200)
    list_id = models.PositiveBigIntegerField(_("lista (ID)"), null=True, blank=True)
    list_weight = models.PositiveSmallIntegerField(_("peso da lista"), null=True, blank=True)
    batch_size = models.PositiveIntegerField(_("contatos por lote"), default=500)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("solicitado por"),
    )
    selection = models.JSONField(_("seleção"), default=dict, blank=True, help_text=_("Filtros ou IDs escolhidos."))
    # False from "Enviar" until the worker has frozen the selection (replayed from `selection`) into items.
    selection_frozen = models.BooleanField(_("seleção congelada"), default=True, db_default=True)
    # The freeze walks the tenant's clients in id order: how far it got (it resumes there) and out of how many.
    frozen_up_to = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    prepare_done = models.PositiveIntegerField(_("clientes analisados"), default=0, db_default=0)
    prepare_total = models.PositiveIntegerField(_("clientes a analisar"), default=0, db_default=0)
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    selected_count = models.PositiveIntegerField(_("clientes selecionados"), default=0)
    to_send_count = models.PositiveIntegerField(_("clientes a enviar"), default=0)
    skipped = models.JSONField(_("ignorados por motivo"), default=dict, blank=True)
    phones_count = models.PositiveIntegerField(_("telefones a enviar"), default=0)
    open_balance = models.DecimalField(_("saldo em aberto"), **MONEY, default=0)
    sent_count = models.PositiveIntegerField(_("clientes enviados"), default=0)
    failed_count = models.PositiveIntegerField(_("clientes com falha"), default=0)
    sent_phones = models.PositiveIntegerField(_("telefones enviados"), default=0)
    error_summary = models.TextField(_("erros"), blank=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)
    started_at = models.DateTimeField(_("início"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fim"), null=True, blank=True)
    # The run's lease: renewed as batches go; a running export whose lease ran out lost its worker.
    heartbeat_at = models.DateTimeField(_("última atividade"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    pauses = models.PositiveSmallIntegerField(_("pausas seguidas"), default=0, db_default=0)
    # One per confirmation form: submitting the same form again finds this export instead of a second.
    submission_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("envio ao discador")
        verbose_name_plural = _("envios ao discador")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="export_tenant_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "submission_token"],
                condition=models.Q(submission_token__isnull=False),
                name="export_unique_submission",
            )
        ]

    def __str__(self):
        return _("Envio #%(id)s — %(list)s") % {"id": self.pk, "list": self.list_name}

    @property
    def prepare_percent(self) -> int:
        if not self.prepare_total:
            return 0
        return min(100, round(100 * self.prepare_done / self.prepare_total))

    @property
    def processed(self) -> int:
        return self.sent_count + self.failed_count

    @property
    def progress_percent(self) -> int:
        if not self.to_send_count:
            return 100 if self.status in self.FINISHED else 0
        return min(100, round(100 * self.processed / self.to_send_count))

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class DialerExportItem(TenantOwned):
    """One client of an export: the phones sent and how it went."""

    class Status(models.TextChoices):
        PENDING = "pendente", _("Pendente")
        SENDING = "enviando", _("Enviando")  # posted, not yet acknowledged: checked again on resume
        SENT = "enviado", _("Enviado")
        FAILED = "falhou", _("Falhou")
        SKIPPED = "ignorado", _("Ignorado")  # no longer eligible when its batch came (the reason is in error)
        # Accepted, not on the 3C Plus list now (window closed, a cap, a callback, the re-work rule): the projection
        # (dialer/projection.py) adds it when nothing holds it and takes it out when something does.
        HELD = "aguardando", _("Aguardando")

    # No index of its own: the unique (export, client) index starts with it.
    export = models.ForeignKey(
        DialerExport, on_delete=models.CASCADE, related_name="items", verbose_name=_("envio"), db_index=False
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="dialer_items", verbose_name=_("cliente"))
    campaign_id = models.PositiveBigIntegerField(_("campanha (ID)"))
    status = models.CharField(_("situação"), max_length=10, choices=Status.choices, default=Status.PENDING)
    phones = models.JSONField(_("telefones enviados"), default=list, blank=True)
    error = models.TextField(_("erro"), blank=True)
    sent_at = models.DateTimeField(_("enviado em"), null=True, blank=True)

    class Meta:
        verbose_name = _("cliente do envio")
        verbose_name_plural = _("clientes do envio")
        ordering = ["client_id"]
        constraints = [models.UniqueConstraint(fields=["export", "client"], name="export_item_unique_client")]
        # Only (export, client) and client are indexed: the batch updates of status, phones and
        # sent_at then touch no index, so PostgreSQL can update in place (HOT, with the fillfactor
        # set in the migrations: room for the two updates of a send). The walk goes by (export, client);
        # "recently sent" by client.

    def __str__(self):
        return f"{self.export_id}/{self.client_id}"


class DialerCallEvent(TenantOwned):
    """A 3C Plus event received by the tenant's webhook (call-was-connected, call-history-was-created)."""

    class Event(models.TextChoices):
        CONNECTED = "call-was-connected", _("Ligação conectada")
        HISTORY = "call-history-was-created", _("Histórico da ligação")

    event = models.CharField(_("evento"), max_length=40, choices=Event.choices)
    call_id = models.CharField(_("ID da ligação"), max_length=120)
    telephony_id = models.CharField(_("telephony_id"), max_length=120, blank=True)
    # The session id: on the connected call and on its GET /calls report (whose id is the history's, not the
    # connected call's), so it is what joins those two.
    sid = models.CharField(_("sid"), max_length=120, blank=True, default="", db_default="")
    call_mode = models.CharField(_("modo"), max_length=20, blank=True)
    identifier = models.CharField(_("identifier"), max_length=120, blank=True)
    mailing_data = models.JSONField(_("dados do mailing"), default=dict, blank=True)
    agent_id = models.CharField(_("agente"), max_length=40, blank=True)
    agent_name = models.CharField(_("nome do agente"), max_length=120, blank=True)
    phone = models.CharField(_("telefone"), max_length=30, blank=True)
    campaign_id = models.CharField(_("campanha"), max_length=40, blank=True)
    status = models.CharField(_("status"), max_length=40, blank=True)
    qualification = models.JSONField(_("qualificação"), default=dict, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duração (s)"), null=True, blank=True)
    recording_url = models.URLField(_("gravação"), max_length=500, blank=True)
    client = models.ForeignKey(
        Client,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_events",
        verbose_name=_("cliente"),
    )
    raw = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("recebido em"), auto_now_add=True)

    class Meta:
        verbose_name = _("evento de ligação")
        verbose_name_plural = _("eventos de ligação")
        ordering = ["-received_at", "-id"]
        constraints = [
            # 3C Plus retries deliveries: one event per kind and call.
            models.UniqueConstraint(fields=["tenant", "event", "call_id"], name="call_event_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "agent_id", "-id"], name="call_event_agent"),
            # The client's timeline shows its calls (the history events), newest first, a page at a time.
            models.Index(fields=["client", "event", "-received_at", "-id"], name="call_event_client_recent"),
            # The attempt caps and the dashboard count a tenant's call events of a period, by kind.
            models.Index(fields=["tenant", "event", "received_at"], name="call_event_tenant_recent"),
            # One call, three ids (dialer.calls.same_call_ids): the history and the connected event share the
            # telephony_id, the report and the connected event the sid.
            models.Index(
                fields=["tenant", "telephony_id"], name="call_event_telephony", condition=~models.Q(telephony_id="")
            ),
            models.Index(fields=["tenant", "sid"], name="call_event_sid", condition=~models.Q(sid="")),
        ]

    def __str__(self):
        return f"{self.event} {self.call_id}"

    @property
    def is_manual(self) -> bool:
        return self.call_mode.startswith("manual")


class QualifiedAction(models.TextChoices):
    """What a call qualified so (inside 3C Plus or from our page) does here to the client and the dialled phone."""

    NOTHING = "nada", _("Nada")
    WRONG_NUMBER = "numero_errado", _("Número errado: desligar o telefone")
    DO_NOT_CALL = "nao_ligar", _("Não ligar para o cliente")
    CALLBACK = "retornar", _("Retornar: agendar retorno")


class Qualification(TenantOwned):
    """A 3C Plus qualification, as read by "Sincronizar qualificações" (GET /qualification_lists…)."""

    remote_id = models.PositiveBigIntegerField(_("ID no 3C Plus"))
    name = models.CharField(_("nome"), max_length=200)
    list_id = models.PositiveBigIntegerField(_("lista de qualificações (ID)"))
    list_name = models.CharField(_("lista de qualificações"), max_length=200)
    list_campaigns = models.JSONField(_("campanhas da lista"), default=list, blank=True)
    allow_schedule = models.BooleanField(_("permite agendar retorno"), default=False)
    synced_at = models.DateTimeField(_("sincronizada em"))
    # Chosen by the tenant's admin; empty until then, and read as its default (see qualifications.action_of).
    action = models.CharField(_("ação aqui"), max_length=20, choices=QualifiedAction.choices, null=True, blank=True)

    class Meta:
        verbose_name = _("qualificação do 3C Plus")
        verbose_name_plural = _("qualificações do 3C Plus")
        ordering = ["list_name", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "remote_id"], name="qualification_unique_remote")]

    def __str__(self):
        return f"{self.name} ({self.list_name})"


class QualificationMapping(TenantOwned):
    """Which 3C Plus qualification a tabulação becomes, per qualification list (each campaign has one)."""

    behavior = models.CharField(_("tabulação"), max_length=30, choices=DispositionBehavior.choices)
    list_id = models.PositiveBigIntegerField(_("lista de qualificações (ID)"))
    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="mappings", verbose_name=_("qualificação")
    )

    class Meta:
        verbose_name = _("mapeamento de qualificação")
        verbose_name_plural = _("mapeamentos de qualificação")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "list_id", "behavior"], name="qualification_mapping_unique")
        ]

    def __str__(self):
        return f"{self.get_behavior_display()} → {self.qualification}"


class WebhookDelivery(TenantOwned):
    """One delivery to the tenant's webhook, as received: what 3C Plus really sends, and what we made of it."""

    class Result(models.TextChoices):
        PROCESSED = "processado", _("Processado")
        REPEATED = "repetido", _("Repetido")
        UNUSED = "nao_usado", _("Não usado")
        INVALID = "invalido", _("JSON inválido")

    received_at = models.DateTimeField(_("recebido em"), auto_now_add=True)
    event = models.CharField(_("evento"), max_length=80, blank=True)
    result = models.CharField(_("resultado"), max_length=20, choices=Result.choices)
    detail = models.CharField(_("detalhe"), max_length=300, blank=True)
    call_event = models.ForeignKey(
        DialerCallEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("evento de ligação"),
    )
    client = models.ForeignKey(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("cliente")
    )
    size = models.PositiveIntegerField(_("tamanho (bytes)"), default=0)
    body = models.TextField(_("corpo (tokens ocultos)"), blank=True)

    class Meta:
        verbose_name = _("entrega do webhook")
        verbose_name_plural = _("entregas do webhook")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-received_at"], name="webhook_delivery_tenant")]

    def __str__(self):
        return f"{self.event or '?'} {self.received_at:%d/%m/%Y %H:%M:%S}"


# Why contacts leave the campaigns: a "não ligar" mark, or the debt settled by agreement or payment.
REMOVAL_REASONS = [*DoNotCallReason.choices, ("acordo", _("Acordo")), ("quitado", _("Quitado"))]


class DialerRemoval(TenantOwned):
    """Contacts taken out of one 3C Plus campaign (DELETE …/mailing/delete) because they must not be called."""

    class Status(models.TextChoices):
        PENDING = "pendente", _("Pendente")
        DONE = "removido", _("Removido")
        FAILED = "falhou", _("Falhou")

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="dialer_removals", verbose_name=_("cliente")
    )
    campaign_id = models.PositiveBigIntegerField(_("campanha (ID)"))
    contacts = models.JSONField(_("contatos"), default=list, help_text=_("Pares {phone, identifier} removidos."))
    reason = models.CharField(_("motivo"), max_length=40, blank=True, choices=REMOVAL_REASONS)
    status = models.CharField(_("situação"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    error = models.TextField(_("erro"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("solicitado por"),
    )
    created_at = models.DateTimeField(_("pedido em"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    done_at = models.DateTimeField(_("removido em"), null=True, blank=True)

    class Meta:
        verbose_name = _("remoção do discador")
        verbose_name_plural = _("remoções do discador")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="removal_tenant_created"),
            models.Index(fields=["client", "-created_at", "-id"], name="removal_client_recent"),
            models.Index(fields=["status", "next_attempt_at"], name="removal_due"),
        ]

    def __str__(self):
        return _("Remoção #%(id)s — campanha %(c)s") % {"id": self.pk, "c": self.campaign_id}


class CallSync(TenantOwned):
    """Reconciliation with GET /calls: how far a tenant's call history has been read from 3C Plus."""

    watermark = models.DateTimeField(_("lido até"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("última leitura"), null=True, blank=True)
    last_error = models.TextField(_("último erro"), blank=True)
    recovered = models.PositiveIntegerField(_("ligações recuperadas"), default=0)
    # Since when every run has failed (None: the last one read everything it had to).
    failing_since = models.DateTimeField(_("falhando desde"), null=True, blank=True)
    # A pass reads [pass_start, pass_end] page by page; a run stops after DIALER_RECONCILE_MAX_PAGES and the next
    # run continues it at next_page. None: no pass under way.
    pass_start = models.DateTimeField(null=True, blank=True, editable=False)
    pass_end = models.DateTimeField(null=True, blank=True, editable=False)
    next_page = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Reports 3C Plus sent that could not be read: skipped, counted, the last one's reason and excerpt kept.
    bad_reports = models.PositiveIntegerField(_("relatórios ignorados"), default=0, db_default=0)
    last_bad_report = models.TextField(_("último relatório ignorado"), blank=True, default="", db_default="")

    LAST_BAD_REPORT_LENGTH = 600  # the reason, a date and the excerpt of what came

    class Meta:
        verbose_name = _("reconciliação de ligações")
        verbose_name_plural = _("reconciliações de ligações")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="call_sync_one_per_tenant")]

    def __str__(self):
        return str(self.tenant)


def _region_choices():
    return [*_uf_choices(), ("NORONHA", _("Fernando de Noronha (PE)"))]


def _uf_choices():
    return [(uf, uf) for uf in ALL_UFS]


class CallingWindowOverride(TenantOwned):
    """A tenant's own calling window for one UF, in place of the law's (dialer/calling_rules.py): tighter at will,
    wider only with a written reason (audited). The tenant's general hours still apply on top."""

    state = models.CharField(_("UF"), max_length=7, choices=_region_choices)
    weekdays = models.CharField(_("dias úteis"), max_length=100, blank=True, help_text=_("Vazio: não ligar."))
    saturday = models.CharField(_("sábado"), max_length=100, blank=True, help_text=_("Vazio: não ligar."))
    sunday = models.CharField(_("domingo"), max_length=100, blank=True, help_text=_("Vazio: não ligar."))
    holidays = models.CharField(_("feriados"), max_length=100, blank=True, help_text=_("Vazio: não ligar."))
    reason = models.TextField(
        _("motivo"),
        blank=True,
        max_length=2000,
        help_text=_("Obrigatório quando a janela é mais ampla que a lei do estado."),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("alterada por"),
        editable=False,
    )
    updated_at = models.DateTimeField(_("alterada em"), auto_now=True)

    class Meta:
        verbose_name = _("janela de discagem por UF")
        verbose_name_plural = _("janelas de discagem por UF")
        ordering = ["state"]
        constraints = [models.UniqueConstraint(fields=["tenant", "state"], name="calling_window_one_per_state")]

    def __str__(self):
        return _("Janela de %(uf)s") % {"uf": self.get_state_display()}

    def hours(self) -> dict:
        return {kind: getattr(self, kind) for kind in ("weekdays", "saturday", "sunday", "holidays")}


class MunicipalHoliday(TenantOwned):
    """A city's holiday, added to the national and state ones: its debtors are not called that day."""

    state = models.CharField(_("UF"), max_length=2, choices=_uf_choices)
    city = models.CharField(_("cidade"), max_length=100)
    # The city without accents, in lower case and single spaces: how a client's city is matched.
    city_key = models.CharField(max_length=100, editable=False)
    date = models.DateField(_("data"))
    name = models.CharField(_("feriado"), max_length=100)

    class Meta:
        verbose_name = _("feriado municipal")
        verbose_name_plural = _("feriados municipais")
        ordering = ["date", "state", "city"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "state", "city_key", "date"], name="municipal_holiday_unique")
        ]
        indexes = [models.Index(fields=["tenant", "date"], name="municipal_holiday_day")]

    def __str__(self):
        return f"{self.name} — {self.city}/{self.state} ({self.date:%d/%m/%Y})"

    def save(self, *args, **kwargs):
        self.city_key = city_key(self.city)
        super().save(*args, **kwargs)
