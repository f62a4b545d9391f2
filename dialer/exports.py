"""Enviar para discador: the selection frozen into an export and sent to 3C Plus in batches by a worker
(resumable, each contact exactly once), and the removal from the campaigns of whoever must not be called any more.
"""

import dataclasses
import json
import logging
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, CharField, Count, F, Lookup, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from common import advisory_locks
from common.reversing import url_with_id
from core import task_leases
from core.models import Client, ClientPhone
from dialer import eligibility, selectors
from dialer.client import MailingBatch, dial_number
from dialer.connection import api_for, is_configured, not_configured_message
from dialer.errors import TRANSIENT, DialerError, NotConfiguredError, UnknownOutcomeError, ValidationError
from dialer.models import DialerExport, DialerExportItem, DialerRemoval
from tenants import audit
from tenants.roles import is_back_office, user_tenant

logger = logging.getLogger(__name__)

SEND = eligibility.SEND
EXPORT_LOCK_NAMESPACE = 3  # pg advisory lock key space of dialer exports


class _AnyOf(Lookup):
    """`column IN (ids)` for thousands of ids: on PostgreSQL one array parameter (`= ANY(%s)`) instead of one
    placeholder per id, which costs more to build and to send than the statement's work. Ids only: the array goes
    as its text form, which the driver need not inspect value by value."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        placeholders = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({placeholders})", (*lhs_params, *self.rhs)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, "{" + ",".join(map(str, self.rhs)) + "}")


def _client_in(ids, field="client_id"):
    return _AnyOf(F(field), list(ids))


def default_list_name() -> str:
    return timezone.localtime().strftime("Carteira %d/%m/%Y %H:%M")


def _refuse_or_find(tenant, submission_token) -> DialerExport | None:
    """Refuse a tenant without 3C Plus; the export a submission token already made, if any."""
    if not is_configured(tenant):
        raise NotConfiguredError(not_configured_message())
    if submission_token is None:
        return None
    return DialerExport.objects.filter(tenant=tenant, submission_token=submission_token).first()


def create_export(
    tenant,
    user,
    queryset,
    *,
    campaign_id: int,
    campaign_name: str = "",
    list_name: str = "",
    selection: dict | None = None,
    batch_size: int | None = None,
    list_weight: int | None = None,
    enqueue: bool = True,
    submission_token=None,
) -> DialerExport:
    """Freeze the selection now (one item per client to send) and queue the task that sends it: for the
    command line and code that holds a queryset. "Enviar" in the admin uses queue_export.

    The same submission_token (one per confirmation form) never creates a second export: a double
    click or a resubmitted page gets the first one back.
    """
    existing = _refuse_or_find(tenant, submission_token)
    if existing is not None:
        return existing
    queryset = queryset.filter(tenant=tenant)
    try:
        with transaction.atomic():
            export = DialerExport.objects.create(
                submission_token=submission_token,
                **_export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, batch_size),
                list_weight=list_weight,
                heartbeat_at=timezone.now(),
            )
            export = _freeze(export, queryset)
            _record(export, user)
    except IntegrityError:
        if submission_token is None:
            raise
        # The same form, submitted concurrently, won the race: its export is the one.
        return DialerExport.objects.get(tenant=tenant, submission_token=submission_token)
    if enqueue:
        transaction.on_commit(lambda: enqueue_export(export))
    return export


def queue_export(
    tenant,
    user,
    *,
    selection: dict,
    campaign_id: int,
    campaign_name: str = "",
    list_name: str = "",
    list_weight: int | None = None,
    submission_token=None,
) -> DialerExport:
    """ "Enviar" confirmed in the admin: the export is recorded and queued at once, whatever the selection's size;
    the worker freezes it and then sends it.

    `selection` is what the worker replays, as the user who confirmed: {"filtros": the Carteira's query string}
    for "select all", plus {"ids": [...]} for rows picked one by one. The submission token rule is create_export's.
    """
    existing = _refuse_or_find(tenant, submission_token)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            export = DialerExport.objects.create(
                submission_token=submission_token,
                **_export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, None),
                list_weight=list_weight,
                selection_frozen=False,  # "na fila" until a worker takes it and starts preparing
                heartbeat_at=timezone.now(),
            )
            _record(export, user)
    except IntegrityError:
        if submission_token is None:
            raise
        return DialerExport.objects.get(tenant=tenant, submission_token=submission_token)
    transaction.on_commit(lambda: enqueue_export(export))
    return export


def _export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, batch_size) -> dict:
    return {
        "tenant": tenant,
        "requested_by": user,
        "campaign_id": campaign_id,
        "campaign_name": campaign_name[:200],
        "list_name": (list_name or default_list_name())[:200],
        "selection": selection or {},
        "batch_size": batch_size or settings.DIALER_BATCH_SIZE,
    }


def _record(export, user):
    changes = {
        "campanha": ["", export.campaign_name or str(export.campaign_id)],
        "lista": ["", export.list_name],
        "seleção": ["", json.dumps(export.selection, ensure_ascii=False, default=str)],
    }
    if export.selection_frozen:
        changes["clientes a enviar"] = ["", str(export.to_send_count)]
        changes["saldo em aberto"] = ["", str(export.open_balance)]
    audit.record(export.tenant, user, audit.Action.DIALER_EXPORT, export, changes=changes)


def prepare_export(export_id: int) -> DialerExport:
    """Only the worker's first half: freeze a queued selection (the send follows in run_export)."""
    export = DialerExport.objects.select_related("tenant").get(pk=export_id)
    with export_lock(export.pk) as acquired:
        export.refresh_from_db()
        if acquired and not export.selection_frozen and not export.is_finished:
            export = _prepare(export)
    return export


def _prepare(export) -> DialerExport:
    DialerExport.objects.filter(pk=export.pk).update(
        status=DialerExport.Status.PREPARING,
        started_at=export.started_at or timezone.now(),
        heartbeat_at=timezone.now(),
    )
    try:
        queryset = _replay_selection(export)
    except DialerError as error:
        return _finish(export, DialerExport.Status.FAILED, error.message)
    export = _freeze(export, queryset)
    DialerExport.objects.filter(pk=export.pk).update(selection_frozen=True, status=DialerExport.Status.QUEUED)
    export.refresh_from_db()
    return export


def _replay_selection(export):
    """The clients the user chose in the Carteira, as the Carteira computes them for that user now."""
    from core.admin import wallet_queryset

    user = export.requested_by
    if (
        user is None
        or not user.is_active
        or not is_back_office(user)
        or (not user.is_superuser and user_tenant(user) != export.tenant)
    ):
        raise DialerError(_("Quem pediu o envio não tem mais acesso a esta carteira: confirme o envio de novo."))
    try:
        queryset = wallet_queryset(user, export.selection.get("filtros", ""))
    except IncorrectLookupParameters:
        raise DialerError(_("Os filtros da Carteira deste envio não valem mais: confirme o envio de novo.")) from None
    if "ids" in export.selection:
        queryset = queryset.filter(pk__in=[int(i) for i in export.selection["ids"]])
    return queryset.filter(tenant=export.tenant)


# Clients of the tenant walked per transaction when freezing: small enough for steady progress and a short
# redo after a crash, large enough that the per-statement work (the rule's subqueries) is paid rarely.
FREEZE_CHUNK = 20_000


def _freeze(export, queryset) -> DialerExport:
    """Items for the selected clients that may be dialled at the export's creation instant, with the preview's
    counts. The walk goes through the tenant's clients in id order, a chunk per transaction whose items and counts
    commit with the watermark: a worker that dies resumes after the last chunk, freezing and counting nothing twice.
    """
    tenant_clients = Client.objects.filter(tenant_id=export.tenant_id).order_by("pk").values_list("pk", flat=True)
    totals = {
        "selected_count": export.selected_count,
        "to_send_count": export.to_send_count,
        "phones_count": export.phones_count,
        "open_balance": export.open_balance,
        "skipped": dict(export.skipped or {}),
        "prepare_done": export.prepare_done,
        "prepare_total": export.prepare_total or tenant_clients.count(),
    }
    last = export.frozen_up_to or 0
    while True:
        upper = next(iter(tenant_clients.filter(pk__gt=last)[FREEZE_CHUNK - 1 : FREEZE_CHUNK]), None)
        among = Q(client_id__gt=last) if upper is None else Q(client_id__gt=last, client_id__lte=upper)
        chunk = queryset.filter(pk__gt=last) if upper is None else queryset.filter(pk__gt=last, pk__lte=upper)
        with transaction.atomic():
            counts = _freeze_chunk(export, chunk, among)
            totals["selected_count"] += counts["selected"]
            totals["to_send_count"] += counts["to_send"]
            totals["phones_count"] += counts["phones"]
            totals["open_balance"] += counts["balance"]
            for reason, n in counts["skipped"].items():
                totals["skipped"][reason] = totals["skipped"].get(reason, 0) + n
            done = upper is None
            totals["prepare_done"] = totals["prepare_total"] if done else totals["prepare_done"] + FREEZE_CHUNK
            DialerExport.objects.filter(pk=export.pk).update(
                **totals, frozen_up_to=upper or last, heartbeat_at=timezone.now()
            )
        if done:
            break
        last = upper
    if connection.vendor == "postgresql":
        # Thousands of fresh rows: without statistics the planner scans the whole table for every
        # batch update instead of using the (export, client) index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DialerExportItem._meta.db_table}")
    export.refresh_from_db()
    return export


def _freeze_chunk(export, queryset, among: Q) -> dict:
    """One pass of the rule over the chunk: the clients to send become items, and every client is counted under
    its reason (the preview's figures)."""
    classified = eligibility.classify(queryset, export.tenant, export.campaign_id, export.created_at, among)
    table = DialerExportItem._meta.db_table
    item = [export.tenant_id, export.pk, export.campaign_id, DialerExportItem.Status.PENDING, "[]"]
    if connection.vendor == "postgresql":
        sql, params = (
            classified.annotate(c_id=F("pk"), c_balance=F("open_balance"), c_phones=F("active_phones"))
            .values("c_id", "skip_reason", "c_balance", "c_phones")
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH classified AS MATERIALIZED ({sql}), frozen AS ("
                f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error) "
                f"SELECT %s, %s, c_id, %s, %s, %s, '' FROM classified WHERE skip_reason = %s "
                f"ON CONFLICT (export_id, client_id) DO NOTHING) "
                f"SELECT skip_reason, COUNT(*), SUM(c_balance), SUM(c_phones) FROM classified GROUP BY skip_reason",
                [*params, *item, eligibility.SEND],
            )
            groups = [
                {"skip_reason": reason, "n": n, "balance": balance or Decimal("0"), "phones": phones or 0}
                for reason, n, balance, phones in cursor.fetchall()
            ]
        return eligibility.summarize(groups)
    # SQLite has no INSERT inside WITH: the rule runs twice over the chunk, at the same instant.
    groups = classified.values("skip_reason").annotate(
        n=Count("pk"), balance=Sum("open_balance"), phones=Sum("active_phones")
    )
    client_sql, params = (
        classified.filter(skip_reason=eligibility.SEND)
        .annotate(frozen_client_id=F("pk"))
        .values("frozen_client_id")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error) "
            f"SELECT %s, %s, selected.frozen_client_id, %s, %s, %s, '' FROM ({client_sql}) AS selected "
            f"WHERE true ON CONFLICT (export_id, client_id) DO NOTHING",
            [*item, *params],
        )
    return eligibility.summarize(groups)


def enqueue_export(export):
    from dialer.tasks import send_export

    send_export.enqueue(export.pk)


# The client columns a mailing contact carries, in the order contact_data takes them.
CONTACT_FIELDS = ("pk", "name", "cpf", "open_balance", "external_id", "creditor__name")


def contact_data(client_id, name, cpf, open_balance, external_id, creditor, client_url) -> dict:
    return {
        "nome": name,
        "cpf": cpf,
        "valor_em_aberto": f"{open_balance:.2f}",
        "credor": creditor,
        "external_id": external_id,
        "url_atendimento": client_url(client_id),
    }


def run_export(export_id: int, *, api_factory=None, progress=None) -> DialerExport:
    """Send an export's pending items in batches; safe to run again after a crash (it resumes).

    Two workers never send the same export at once: on PostgreSQL the run holds an advisory lock
    (released by the database if the worker dies), and a second run simply returns.
    """
    export = DialerExport.objects.select_related("tenant").get(pk=export_id)
    if export.is_finished:
        return export
    with export_lock(export.pk) as acquired:
        export.refresh_from_db()
        if not acquired:
            logger.info("Envio %s já está sendo processado por outro worker.", export.pk)
            return export
        if export.is_finished:
            return export
        if not export.selection_frozen:
            export = _prepare(export)
            if export.is_finished:
                return export
        return _run(export, api_factory, progress)


def export_lock(export_id: int):
    """Held by the worker running an export; PostgreSQL releases it if the worker dies."""
    return advisory_locks.try_lock(EXPORT_LOCK_NAMESPACE, export_id)


def _run(export, api_factory, progress):
    factory = api_factory or api_for
    DialerExport.objects.filter(pk=export.pk).update(
        status=DialerExport.Status.RUNNING,
        started_at=export.started_at or timezone.now(),
        heartbeat_at=timezone.now(),
        next_attempt_at=None,
    )
    try:
        with factory(export.tenant) as api:
            if export.list_id is None:
                export.list_id = _create_list(export, api)
                DialerExport.objects.filter(pk=export.pk).update(list_id=export.list_id)
            _recover_unacknowledged(export, api)
            _send_pending(export, api, progress)
            if export.list_weight:
                api.update_list_weight(export.campaign_id, export.list_id, export.list_weight)
    except TRANSIENT as error:
        # 5xx, timeouts, rate limits beyond the retries: what was sent stays sent.
        return _pause(export, error.message)
    except DialerError as error:
        # Waiting does not fix these (token, missing campaign, refused data): say why; "Continuar envio"
        # resumes once the cause is fixed.
        return _finish(export, DialerExport.Status.FAILED, error.message)
    failed = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED).exists()
    if not failed:
        return _finish(export, DialerExport.Status.DONE, None)
    # Every batch refused (422) is a failed export, not a partly done one.
    sent = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENT).exists()
    return _finish(export, DialerExport.Status.PARTIAL if sent else DialerExport.Status.FAILED, None)


def _pause(export, reason: str) -> DialerExport:
    """Stop for now and come back after an exponential backoff; fail after too many pauses in a row."""
    pauses = DialerExport.objects.values_list("pauses", flat=True).get(pk=export.pk) + 1
    if pauses > settings.DIALER_EXPORT_MAX_PAUSES:
        return _finish(
            export,
            DialerExport.Status.FAILED,
            _("%(reason)s O 3C Plus falhou em %(n)d tentativas seguidas; use “Continuar envio” quando voltar.")
            % {"reason": reason, "n": pauses - 1},
        )
    delay = min(
        settings.DIALER_EXPORT_BACKOFF_MAX_SECONDS, settings.DIALER_EXPORT_BACKOFF_BASE_SECONDS * 2 ** (pauses - 1)
    )
    next_attempt = timezone.now() + timedelta(seconds=delay)
    DialerExport.objects.filter(pk=export.pk).update(
        status=DialerExport.Status.PAUSED,
        pauses=pauses,
        next_attempt_at=next_attempt,
        error_summary=_("%(reason)s Pausado; nova tentativa automática às %(at)s.")
        % {"reason": reason, "at": timezone.localtime(next_attempt).strftime("%d/%m/%Y %H:%M:%S")},
    )
    logger.warning("Envio %s pausado (%s); nova tentativa em %ss", export.pk, reason, delay)
    export.refresh_from_db()
    return export


RESUMABLE = (DialerExport.Status.PAUSED, DialerExport.Status.FAILED)


def resume_export(export) -> bool:
    """ "Continuar envio": a paused or failed export goes back to the queue now. False if it is not resumable."""
    with transaction.atomic():
        resumed = DialerExport.objects.filter(pk=export.pk, status__in=RESUMABLE).update(
            status=DialerExport.Status.QUEUED,
            pauses=0,
            next_attempt_at=None,
            finished_at=None,
            heartbeat_at=timezone.now(),
            error_summary="",
        )
        if resumed:
            transaction.on_commit(lambda: enqueue_export(export))
    export.refresh_from_db()
    return bool(resumed)


def sweep_exports() -> list[int]:
    """Re-queue the exports whose worker died and the paused ones that are due (run by every worker).

    On PostgreSQL a running export whose advisory lock is held still has a live worker (a slow batch
    outlived the lease): it is left alone. The locks taken here are released before the task is queued.
    """
    requeued = []
    with transaction.atomic():
        candidates = selectors.stranded_exports().select_for_update(skip_locked=True).values_list("pk", flat=True)
        with advisory_locks.try_locks(EXPORT_LOCK_NAMESPACE, list(candidates)) as free:
            requeued = free  # rows locked above: nobody changed their status since
            DialerExport.objects.filter(pk__in=free).update(
                status=DialerExport.Status.QUEUED, heartbeat_at=timezone.now(), next_attempt_at=None
            )
    for export_id in requeued:
        logger.warning("Envio %s retomado pela varredura (worker parado ou pausa vencida).", export_id)
        enqueue_export(DialerExport(pk=export_id))
    return requeued


def _create_list(export, api) -> int:
    """Create the export's list; when the answer is lost, create again (at worst an empty list is left)."""
    for attempt in range(1, UNKNOWN_OUTCOME_ATTEMPTS + 1):
        try:
            return api.create_list(export.campaign_id, export.list_name)["id"]
        except UnknownOutcomeError:
            logger.warning("Envio %s: resposta da criação da lista perdida (tentativa %d)", export.pk, attempt)
            if attempt == UNKNOWN_OUTCOME_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _mailing_keys(client_phones) -> list[dict]:
    """The (phone, identifier) pairs that DELETE mailing/delete takes, from {client id: [phones]}."""
    return [{"phone": phone, "identifier": str(client_id)} for client_id, phones in client_phones for phone in phones]


def _recover_unacknowledged(export, api):
    """Items posted by a run that ended before writing the answer down (a worker that died, acknowledged batches
    not yet recorded): removed from the campaign, then sent again. In chunks: a big run can leave many."""
    sending = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENDING)
    while True:
        stuck = list(sending.order_by("client_id").values_list("client_id", "phones")[: export.batch_size])
        if not stuck:
            return
        api.delete_mailing(export.campaign_id, _mailing_keys(stuck))
        DialerExportItem.objects.filter(_client_in(client_id for client_id, _ in stuck), export=export).update(
            status=DialerExportItem.Status.PENDING, phones=[]
        )


def _send_pending(export, api, progress=None):
    uploads = _Uploads(export, api, progress)
    try:
        for batches in _batches(export):
            uploads.submit(batches)
        uploads.close()
    finally:
        uploads.pool.shutdown(wait=True)  # no upload outlives the run, whatever ended it


# Pending items read per round: one query for their clients (with the rule), one for their phones.
WALK_CHUNK = 5000


def _batches(export):
    """The pending items as mailing.json batches of about batch_size contacts, in client id order, a list of
    batches per round of WALK_CHUNK clients (bounded memory whatever the export's size). The rule is checked again
    first; clients who lost every phone since the selection are marked failed on the way."""
    client_url = url_with_id("attendance:client", base=settings.PUBLIC_BASE_URL)  # the atendimento page
    items = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.PENDING)
    last_client_id = 0
    batch = MailingBatch()
    batch_phones: dict[int, list[str]] = {}
    while True:
        client_ids = list(
            items.filter(client_id__gt=last_client_id)
            .order_by("client_id")
            .values_list("client_id", flat=True)[:WALK_CHUNK]
        )
        if not client_ids:
            break
        last_client_id = client_ids[-1]
        rows = _sendable(export, client_ids)
        phones: dict[int, list[str]] = {}
        for client_id, number in (
            ClientPhone.objects.filter(_client_in(row[0] for row in rows), active=True)
            .order_by("client_id", "priority", "id")
            .values_list("client_id", "number")
        ):
            phones.setdefault(client_id, []).append(dial_number(number))
        ready = []
        for row in rows:
            client_id = row[0]
            numbers = phones.get(client_id)
            if not numbers:
                continue  # lost its last phone since the selection: marked failed below
            data = json.dumps(contact_data(*row, client_url), ensure_ascii=False, separators=(",", ":"))
            identifier = str(client_id)
            for number in numbers:
                batch.add(number, identifier, data)
            batch_phones[client_id] = numbers
            if len(batch) >= export.batch_size:
                ready.append((batch, batch_phones))
                batch, batch_phones = MailingBatch(), {}
        no_phone = {row[0] for row in rows} - set(phones)
        if no_phone:
            _mark(export, no_phone, DialerExportItem.Status.FAILED, error=str(_("Sem telefone ativo no envio.")))
        if ready:
            yield ready
    if batch_phones:
        yield [(batch, batch_phones)]


def _sendable(export, client_ids) -> list[tuple]:
    """The clients' CONTACT_FIELDS, in id order, for those the rule still lets be dialled. The same rule as the
    preview, again at sending time: who became "não ligar", got an agreement, paid off or reached the attempt cap
    since the selection is skipped with the reason, not sent."""
    rows = list(
        eligibility.classify(
            Client.objects.filter(_client_in(client_ids, "pk")),
            export.tenant,
            export.campaign_id,
            among=Q(client_id__gte=client_ids[0], client_id__lte=client_ids[-1]),
        )
        .order_by("pk")
        .values_list("skip_reason", *CONTACT_FIELDS)
    )
    blocked = defaultdict(list)
    for row in rows:
        if row[0] != SEND:
            blocked[eligibility.base_reason(row[0])].append(row[1])
    _skip(export, blocked)
    return [row[1:] for row in rows if row[0] == SEND]


def _skip(export, blocked: dict[str, list[int]]) -> None:
    """{reason: client ids} the rule no longer lets be sent: their items are skipped with the reason, and the
    export's counts follow."""
    if not blocked:
        return
    with transaction.atomic():
        export = DialerExport.objects.select_for_update().get(pk=export.pk)
        skipped = dict(export.skipped or {})
        for reason, ids in blocked.items():
            DialerExportItem.objects.filter(_client_in(ids), export=export).update(
                status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
            )
            skipped[reason] = skipped.get(reason, 0) + len(ids)
        dropped = sum(len(ids) for ids in blocked.values())
        DialerExport.objects.filter(pk=export.pk).update(
            skipped=skipped, to_send_count=F("to_send_count") - dropped, heartbeat_at=timezone.now()
        )


class _Stop(NamedTuple):
    """A client of a batch who must not be called any more, read at one instant."""

    reason: str  # the rule's (eligibility.REASONS): why its item is skipped if it has not gone yet
    removal_reason: str  # the removal's (models.REMOVAL_REASONS): why it leaves the campaign if it has
    numbers: list[str]  # its numbers in the batch (as dialled) that must not go or must leave


def _stopped(client_phones: dict[int, list[str]]) -> dict[int, _Stop]:
    """Of these clients and their numbers, those who must not be called any more, as the database says now: the
    whole client (the rule's stop conditions: "não ligar", paid off, in an agreement) or its numbers marked "não
    ligar". The same events make core.services.stop_calling remove a client already sent."""
    why = Case(
        *[When(q, then=Value(name)) for name, q in eligibility.stop_conditions()],
        default=Value(SEND),
        output_field=CharField(),
    )
    clients = Client.objects.filter(_client_in(client_phones, "pk")).annotate(stop=why).exclude(stop=SEND)
    stopped = {
        client_id: _Stop(reason, _removal_reason(marked, status), list(client_phones[client_id]))
        for client_id, reason, marked, status in clients.values_list("pk", "stop", "do_not_call_reason", "status")
    }
    others = client_phones.keys() - stopped.keys()
    if not others:
        return stopped
    phones_off = ClientPhone.objects.filter(_client_in(others)).exclude(do_not_call_reason="")
    for client_id, number, marked in phones_off.order_by("client_id", "pk").values_list(
        "client_id", "number", "do_not_call_reason"
    ):
        number = dial_number(number)
        if number in client_phones[client_id]:
            stopped.setdefault(client_id, _Stop("nao_ligar_telefone", marked, [])).numbers.append(number)
    return stopped


def _removal_reason(marked: str, status: str) -> str:
    """What the removal records, as the event that stopped the client would (an agreement's client also has no
    open balance left, which the rule names first)."""
    if marked:
        return marked
    return "acordo" if status in (Client.Status.AGREEMENT, Client.Status.NEGOTIATING) else "quitado"


def _drop_stopped(export, batch, batch_phones) -> tuple[MailingBatch, dict]:
    """The batch less whoever was marked not to be called since its round was read (the rule ran then), checked
    just before it goes: a client stopped as a whole is skipped; a number marked "não ligar" stays behind."""
    stopped = _stopped(batch_phones)
    if not stopped:
        return batch, batch_phones
    kept, blocked = {}, defaultdict(list)
    for client_id, numbers in batch_phones.items():
        stop = stopped.get(client_id)
        left = numbers if stop is None else [n for n in numbers if n not in stop.numbers]
        if left:
            kept[client_id] = left
        else:
            blocked[stop.reason].append(client_id)
    _skip(export, blocked)
    for client_id in stopped.keys() & kept.keys():
        DialerExportItem.objects.filter(export=export, client_id=client_id).update(phones=kept[client_id])
    return batch.without({(str(c), n) for c, stop in stopped.items() for n in stop.numbers}), kept


def _remove_landed(export, stopped: dict[int, _Stop]) -> None:
    """Removals of what landed batches posted for clients who must not be called any more. Created once the
    batches have landed, so their DELETE cannot overtake the POST; a worker task sends each, like any removal."""
    removals = DialerRemoval.objects.bulk_create(
        DialerRemoval(
            tenant_id=export.tenant_id,
            client_id=client_id,
            campaign_id=export.campaign_id,
            contacts=_mailing_keys([(client_id, stop.numbers)]),
            reason=stop.removal_reason,
        )
        for client_id, stop in sorted(stopped.items())
    )
    for removal in removals:
        transaction.on_commit(lambda r=removal: enqueue_removal(r))
    logger.info("Envio %s: %d cliente(s) marcados para não ligar durante o envio; removidos.", export.pk, len(removals))


# A batch whose answer was lost is removed and posted again at most this many times in one run.
UNKNOWN_OUTCOME_ATTEMPTS = 5
# Acknowledged batches are written down (and the run's lease renewed) at most this often: one statement for
# many batches. A worker that dies loses at most this much bookkeeping, which the resume redoes: those items
# are still "enviando", so they are removed from the campaign and sent again, never twice.
PROGRESS_SECONDS = 1.0
RECORD_MAX = 10_000  # clients per "enviado" statement, whatever the pace


# Batches acknowledged cleanly (no lost answer) for each more upload allowed in flight.
RAMP_BATCHES = 4


@dataclasses.dataclass
class _Outcome:
    """How one batch ended: sent, refused (422: failed with the reason), or not stored (sent again later)."""

    batch_phones: dict
    status: str
    error: DialerError | None = None
    lost: int = 0  # answers lost on the way (each one removed before posting again)


def _upload(export, api, batch, batch_phones) -> _Outcome:
    """POST one batch exactly once: an upload whose outcome is unknown is removed before it is posted again.

    Runs beside other uploads: it touches no database, only 3C Plus and this batch's own pairs. Raises only
    when the batch's state is unknown (its removal failed too, or the worker is stopping): its items stay
    "enviando" and the next run removes them first."""
    lost = 0
    for attempt in range(1, UNKNOWN_OUTCOME_ATTEMPTS + 1):
        try:
            api.add_mailing(export.campaign_id, export.list_id, batch)
        except ValidationError as error:
            return _Outcome(batch_phones, DialerExportItem.Status.FAILED, error, lost)
        except UnknownOutcomeError as error:
            # 3C Plus may have stored the batch. Posting again would store it twice: take its pairs out first.
            lost += 1
            logger.warning("Envio %s: resposta de um lote perdida (%s), tentativa %d", export.pk, error.detail, attempt)
            api.delete_mailing(export.campaign_id, _mailing_keys(batch_phones.items()))
            if attempt == UNKNOWN_OUTCOME_ATTEMPTS:
                return _Outcome(batch_phones, DialerExportItem.Status.PENDING, error, lost)
        except DialerError as error:
            # Refused before anything was stored (no connection, rate limited): nothing to undo.
            return _Outcome(batch_phones, DialerExportItem.Status.PENDING, error, lost)
        else:
            return _Outcome(batch_phones, DialerExportItem.Status.SENT, None, lost)
    raise AssertionError("unreachable")


class _Uploads:
    """The run's uploads, several in flight over the API's kept-alive connections, each batch with its own
    exactly-once state. The database is written from the run's thread only, in sets: one statement marks a round's
    batches "enviando" before they go, and the acknowledged ones are marked "enviado" together, with the counters
    and the lease, every PROGRESS_SECONDS.

    The number in flight ramps up: one at first (a wrong token or campaign costs one request, not several), one
    more for every RAMP_BATCHES batches acknowledged without a lost answer, up to DIALER_EXPORT_UPLOADS_IN_FLIGHT;
    a lost answer halves the count of clean ones. The first failure stops new uploads; those in flight finish and
    are recorded, then it is raised.
    """

    def __init__(self, export, api, progress):
        self.export = export
        self.api = api
        self.progress = progress
        self.limit = max(1, settings.DIALER_EXPORT_UPLOADS_IN_FLIGHT)
        self.pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix=f"envio-{export.pk}")
        self.in_flight = set()
        self.clean = 0
        self.failure: BaseException | None = None
        self.landed: dict[int, list[str]] = {}  # acknowledged, not yet recorded: {client id: numbers posted}
        self.sent_total = export.sent_count
        self.recorded_at = time.monotonic()

    def submit(self, batches):
        """Mark a round's batches "enviando" in one statement, then start each as soon as the window allows."""
        _mark_sending(
            self.export, {client_id: numbers for _batch, phones in batches for client_id, numbers in phones.items()}
        )
        for index, (batch, batch_phones) in enumerate(batches):
            while self.failure is None and len(self.in_flight) >= min(self.limit, 1 + self.clean // RAMP_BATCHES):
                self._collect()
            if self.failure is not None:
                never_posted = [client_id for _batch, phones in batches[index:] for client_id in phones]
                DialerExportItem.objects.filter(_client_in(never_posted), export=self.export).update(
                    status=DialerExportItem.Status.PENDING
                )
                self.close()  # raises the failure
            batch, batch_phones = _drop_stopped(self.export, batch, batch_phones)
            if batch_phones:
                self.in_flight.add(self.pool.submit(_upload, self.export, self.api, batch, batch_phones))

    def close(self):
        """Wait for every upload, write everything down, then raise the first failure if there was one."""
        while self.in_flight:
            self._collect()
        self._record()
        if self.failure is not None:
            raise self.failure

    def _collect(self):
        # Waits at most PROGRESS_SECONDS: the lease is renewed even while a slow batch is in flight.
        done, _pending = wait(self.in_flight, timeout=PROGRESS_SECONDS, return_when=FIRST_COMPLETED)
        for future in done:
            self.in_flight.discard(future)
            try:
                outcome = future.result()
            except BaseException as error:  # the batch's state is unknown: it stays "enviando"
                self.failure = self.failure or error
                continue
            self.clean = self.clean // 2 if outcome.lost else self.clean + 1
            if outcome.status == DialerExportItem.Status.SENT:
                self.landed.update(outcome.batch_phones)
            elif outcome.status == DialerExportItem.Status.FAILED:
                _mark(self.export, outcome.batch_phones, outcome.status, error=outcome.error.message)
            else:
                DialerExportItem.objects.filter(_client_in(outcome.batch_phones), export=self.export).update(
                    status=DialerExportItem.Status.PENDING
                )
                self.failure = self.failure or outcome.error
        if len(self.landed) >= RECORD_MAX or time.monotonic() - self.recorded_at >= PROGRESS_SECONDS:
            self._record()

    def _record(self):
        """The acknowledged batches as "enviado", the counters, and the run's lease, in one transaction; and the
        removal of whoever was marked not to be called while they were on the wire."""
        now = timezone.now()
        landed, self.landed = self.landed, {}
        ids = list(landed)
        phones = sum(len(numbers) for numbers in landed.values())
        # Read after the batches landed: a client marked meanwhile had a removal that found nothing to remove yet,
        # or none (its item still pending); removed now, after the POST, whatever the interleaving.
        stopped = _stopped(landed) if landed else {}
        with transaction.atomic():
            if stopped:
                _remove_landed(self.export, stopped)
            if ids:
                DialerExportItem.objects.filter(_client_in(ids), export=self.export).update(
                    status=DialerExportItem.Status.SENT, sent_at=now
                )
                # A batch that went through ends a series of pauses.
                DialerExport.objects.filter(pk=self.export.pk).update(
                    sent_count=F("sent_count") + len(ids),
                    sent_phones=F("sent_phones") + phones,
                    heartbeat_at=now,
                    pauses=0,
                )
            else:
                DialerExport.objects.filter(pk=self.export.pk).update(heartbeat_at=now)
        self.recorded_at = time.monotonic()
        self.sent_total += len(ids)
        if ids and self.progress:
            self.progress(self.sent_total)


def _mark_sending(export, batch_phones):
    """One statement: these clients' phones are about to be posted (so a rerun can find them and remove them
    before sending again, whether or not they went)."""
    table = DialerExportItem._meta.db_table
    sending = DialerExportItem.Status.SENDING
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The pairs as one JSON document: a single parameter, encoded in one go.
            cursor.execute(
                f"UPDATE {table} AS item SET status = %s, phones = data.phones "
                f"FROM jsonb_to_recordset(%s::jsonb) AS data(client_id bigint, phones jsonb) "
                f"WHERE item.export_id = %s AND item.client_id = data.client_id",
                [sending, json.dumps([{"client_id": i, "phones": p} for i, p in batch_phones.items()]), export.pk],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET status = %s, phones = %s WHERE export_id = %s AND client_id = %s",
                [(sending, json.dumps(p), export.pk, i) for i, p in batch_phones.items()],
            )


def _mark(export, client_ids, status, *, error=""):
    """Failed items, with the reason, and the export's failure counter."""
    client_ids = list(client_ids)
    with transaction.atomic():
        DialerExportItem.objects.filter(_client_in(client_ids), export=export).update(status=status, error=error)
        DialerExport.objects.filter(pk=export.pk).update(
            failed_count=F("failed_count") + len(client_ids), heartbeat_at=timezone.now()
        )


def _finish(export, status, error):
    fields = {"status": status, "finished_at": timezone.now(), "next_attempt_at": None}
    if error:
        fields["error_summary"] = error
    elif status in (DialerExport.Status.PARTIAL, DialerExport.Status.FAILED):
        failures = (
            DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED)
            .values("error")
            .annotate(n=Count("pk"))
            .order_by("-n")[:5]
        )
        fields["error_summary"] = "\n".join(f"{f['n']}× {f['error']}" for f in failures)
    DialerExport.objects.filter(pk=export.pk).update(**fields)
    export.refresh_from_db()
    return export


def retry_failures(export) -> DialerExport:
    """Put failed items back in the queue and run the export again."""
    with transaction.atomic():
        failed = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED)
        count = failed.update(status=DialerExportItem.Status.PENDING, error="")
        DialerExport.objects.filter(pk=export.pk).update(
            status=DialerExport.Status.QUEUED,
            failed_count=F("failed_count") - count,
            finished_at=None,
            heartbeat_at=timezone.now(),
            error_summary="",
        )
    transaction.on_commit(lambda: enqueue_export(export))
    export.refresh_from_db()
    return export


# Live removal: who must not be called leaves the campaigns it was sent to ------------------------


def remove_client_from_lists(client, *, phones=None, reason: str = "", user=None) -> list[DialerRemoval]:
    """Take a client who must not be called any more (agreement, paid off, "não ligar") out of every 3C Plus
    campaign it was sent to; with `phones` (E.164), only those numbers. One removal per campaign, sent by a
    worker task with retries. The single call every "stop calling" path makes.
    """
    sent = DialerExportItem.objects.filter(
        client_id=client.pk, status__in=[DialerExportItem.Status.SENT, DialerExportItem.Status.SENDING]
    ).values_list("campaign_id", "phones")
    only = {dial_number(p) for p in phones} if phones is not None else None
    by_campaign: dict[int, set[str]] = defaultdict(set)
    for campaign_id, numbers in sent:
        by_campaign[campaign_id].update(n for n in numbers if only is None or n in only)
    removals = [
        DialerRemoval.objects.create(
            tenant_id=client.tenant_id,
            client_id=client.pk,
            campaign_id=campaign_id,
            contacts=_mailing_keys([(client.pk, sorted(numbers))]),
            reason=str(reason)[:40],
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        for campaign_id, numbers in sorted(by_campaign.items())
        if numbers
    ]
    for removal in removals:
        transaction.on_commit(lambda r=removal: enqueue_removal(r))
    return removals


def enqueue_removal(removal):
    from dialer.tasks import remove_from_lists

    remove_from_lists.enqueue(removal.pk)


def run_removal(removal_id: int, *, api_factory=None) -> DialerRemoval:
    """DELETE the removal's pairs from its campaign; on failure, try again later with a growing delay."""
    removal = DialerRemoval.objects.select_related("tenant").get(pk=removal_id)
    if removal.status != DialerRemoval.Status.PENDING:
        return removal
    factory = api_factory or api_for
    attempts = removal.attempts + 1
    try:
        with factory(removal.tenant) as api:
            api.delete_mailing(removal.campaign_id, removal.contacts)
    except DialerError as error:
        message = error.message
        give_up = attempts >= settings.DIALER_REMOVAL_MAX_ATTEMPTS or not isinstance(error, TRANSIENT)
        delay = settings.DIALER_REMOVAL_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
        DialerRemoval.objects.filter(pk=removal.pk).update(
            attempts=attempts,
            error=message,
            status=DialerRemoval.Status.FAILED if give_up else DialerRemoval.Status.PENDING,
            next_attempt_at=None if give_up else timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("Remoção %s (campanha %s) falhou: %s", removal.pk, removal.campaign_id, message)
    else:
        DialerRemoval.objects.filter(pk=removal.pk).update(
            attempts=attempts, error="", status=DialerRemoval.Status.DONE, done_at=timezone.now(), next_attempt_at=None
        )
    removal.refresh_from_db()
    return removal


def sweep_removals() -> list[int]:
    """Queue again the removals whose retry is due, and those pending with no task in hand: their enqueue was
    lost (the database went away right after the commit) or their task failed on an outage (run by every worker
    at each heartbeat; a removal whose worker died mid-attempt comes back through core.task_leases)."""
    from dialer.tasks import remove_from_lists

    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    in_hand = task_leases.queued_ids(remove_from_lists)
    with transaction.atomic():
        # Several workers sweep: the row locks (skipped when taken) give each removal to one of them.
        due = (
            DialerRemoval.objects.select_for_update(skip_locked=True)
            .filter(status=DialerRemoval.Status.PENDING)
            .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=lost_before))
            .values_list("pk", flat=True)
        )
        claimed = [removal_id for removal_id in due[:500] if removal_id not in in_hand]
        DialerRemoval.objects.filter(pk__in=claimed).update(next_attempt_at=None)
        for removal_id in claimed:
            remove_from_lists.enqueue(removal_id)
    return claimed


def stuck_removal(removal, in_hand: set | None = None) -> bool:
    """Pending with no task queued or running for it: nothing will send it unless someone does. `in_hand`: the
    queue's removal ids, read once by a caller that asks about many removals."""
    from dialer.tasks import remove_from_lists

    if removal.status != DialerRemoval.Status.PENDING:
        return False
    return removal.pk not in (in_hand if in_hand is not None else task_leases.queued_ids(remove_from_lists))


def retry_removals(removals) -> int:
    """ "Tentar novamente" on a selection: the queue is read once, not once per removal."""
    from dialer.tasks import remove_from_lists

    in_hand = task_leases.queued_ids(remove_from_lists)
    return sum(retry_removal(removal, in_hand) for removal in removals)


def retry_removal(removal, in_hand: set | None = None) -> bool:
    """ "Tentar novamente" on a failed removal, or on one left pending with no task to send it."""
    retriable = Q(status=DialerRemoval.Status.FAILED)
    if stuck_removal(removal, in_hand):
        retriable |= Q(status=DialerRemoval.Status.PENDING)
    retried = DialerRemoval.objects.filter(retriable, pk=removal.pk).update(
        status=DialerRemoval.Status.PENDING, attempts=0, error="", next_attempt_at=None
    )
    if retried:
        transaction.on_commit(lambda: enqueue_removal(removal))
    return bool(retried)
