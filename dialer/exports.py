"""Enviar para discador: the selection frozen into an export and sent to 3C Plus in batches by a worker
(resumable, each contact exactly once), and the removal from the campaigns of whoever must not be called any more.
"""

import json
import logging
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Client, ClientPhone
from dialer import eligibility, selectors
from dialer.client import dial_number
from dialer.connection import api_for, is_configured, not_configured_message
from dialer.errors import TRANSIENT, DialerError, NotConfiguredError, UnknownOutcomeError, ValidationError
from dialer.models import DialerExport, DialerExportItem, DialerRemoval
from tenants import audit

logger = logging.getLogger(__name__)

SEND = eligibility.SEND
EXPORT_LOCK_NAMESPACE = 3  # pg advisory lock key space of dialer exports


def default_list_name() -> str:
    return timezone.localtime().strftime("Carteira %d/%m/%Y %H:%M")


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
    """Freeze the selection (one item per client to send) and queue the task that sends it.

    The same submission_token (one per confirmation form) never creates a second export: a double
    click or a resubmitted page gets the first one back.
    """
    if not is_configured(tenant):
        raise NotConfiguredError(not_configured_message())
    if submission_token is not None:
        existing = DialerExport.objects.filter(tenant=tenant, submission_token=submission_token).first()
        if existing:
            return existing
    queryset = queryset.filter(tenant=tenant)
    now = timezone.now()  # one instant for the counts and the frozen items
    counts = eligibility.preview(queryset, tenant, campaign_id, now)
    try:
        with transaction.atomic():
            export = DialerExport.objects.create(
                submission_token=submission_token,
                tenant=tenant,
                requested_by=user,
                campaign_id=campaign_id,
                campaign_name=campaign_name[:200],
                list_name=(list_name or default_list_name())[:200],
                selection=selection or {},
                batch_size=batch_size or settings.DIALER_BATCH_SIZE,
                list_weight=list_weight,
                selected_count=counts["selected"],
                to_send_count=counts["to_send"],
                skipped=counts["skipped"],
                phones_count=counts["phones"],
                open_balance=counts["balance"],
                heartbeat_at=timezone.now(),
            )
            _freeze_items(export, eligibility.eligible(queryset, tenant, campaign_id, now))
            audit.record(
                tenant,
                user,
                audit.Action.DIALER_EXPORT,
                export,
                changes={
                    "campanha": ["", export.campaign_name or str(export.campaign_id)],
                    "lista": ["", export.list_name],
                    "clientes a enviar": ["", str(export.to_send_count)],
                    "saldo em aberto": ["", str(export.open_balance)],
                    "seleção": ["", json.dumps(export.selection, ensure_ascii=False, default=str)],
                },
            )
    except IntegrityError:
        if submission_token is None:
            raise
        # The same form, submitted concurrently, won the race: its export is the one.
        return DialerExport.objects.get(tenant=tenant, submission_token=submission_token)
    if enqueue:
        transaction.on_commit(lambda: enqueue_export(export))
    return export


def _freeze_items(export, queryset):
    """INSERT … SELECT: the chosen client ids go straight from the filtered query into the items."""
    client_sql, params = queryset.annotate(frozen_client_id=F("pk")).values("frozen_client_id").query.sql_with_params()
    table = DialerExportItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error) "
            f"SELECT %s, %s, selected.frozen_client_id, %s, %s, %s, '' FROM ({client_sql}) AS selected",
            [export.tenant_id, export.pk, export.campaign_id, DialerExportItem.Status.PENDING, "[]", *params],
        )
        if connection.vendor == "postgresql":
            # Thousands of fresh rows: without statistics the planner scans the whole table for every
            # batch update instead of using the (export, status, client) index.
            cursor.execute(f"ANALYZE {table}")


def enqueue_export(export):
    from dialer.tasks import send_export

    send_export.enqueue(export.pk)


def contact_data(client: dict, base_url: str) -> dict:
    return {
        "nome": client["name"],
        "cpf": client["cpf"],
        "valor_em_aberto": f"{client['open_balance']:.2f}",
        "credor": client["creditor__name"],
        "external_id": client["external_id"],
        "url_atendimento": f"{base_url}/atendimento/{client['pk']}/",
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
        if not acquired:
            logger.info("Envio %s já está sendo processado por outro worker.", export.pk)
            export.refresh_from_db()
            return export
        return _run(export, api_factory, progress)


@contextmanager
def export_lock(export_id: int):
    if connection.vendor != "postgresql":
        yield True  # SQLite runs one writer at a time anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EXPORT_LOCK_NAMESPACE, export_id])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_NAMESPACE, export_id])


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
        with _try_locks(list(candidates)) as free:
            requeued = free  # rows locked above: nobody changed their status since
            DialerExport.objects.filter(pk__in=free).update(
                status=DialerExport.Status.QUEUED, heartbeat_at=timezone.now(), next_attempt_at=None
            )
    for export_id in requeued:
        logger.warning("Envio %s retomado pela varredura (worker parado ou pausa vencida).", export_id)
        enqueue_export(DialerExport(pk=export_id))
    return requeued


@contextmanager
def _try_locks(export_ids):
    """The ids whose export lock nobody holds, holding those locks until the block ends."""
    if connection.vendor != "postgresql":
        yield list(export_ids)
        return
    free = []
    try:
        with connection.cursor() as cursor:
            for export_id in export_ids:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EXPORT_LOCK_NAMESPACE, export_id])
                if cursor.fetchone()[0]:
                    free.append(export_id)
        yield free
    finally:
        with connection.cursor() as cursor:
            for export_id in free:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_NAMESPACE, export_id])


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
    """Items posted by a worker that died before recording the answer: remove, then send again."""
    stuck = list(
        DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENDING).values_list(
            "client_id", "phones"
        )
    )
    if not stuck:
        return
    api.delete_mailing(export.campaign_id, _mailing_keys(stuck))
    DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENDING).update(
        status=DialerExportItem.Status.PENDING, phones=[]
    )


def _send_pending(export, api, progress=None):
    base_url = settings.PUBLIC_BASE_URL
    items = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.PENDING)
    last_client_id = 0
    batch: list[dict] = []
    batch_phones: dict[int, list[str]] = {}
    while True:
        # Keyset pagination over the frozen items: bounded memory whatever the export's size.
        client_ids = list(
            items.filter(client_id__gt=last_client_id).order_by("client_id").values_list("client_id", flat=True)[:2000]
        )
        if not client_ids:
            break
        last_client_id = client_ids[-1]
        client_ids = _drop_ineligible(export, client_ids)
        # In id order, as the items are walked: batches are the same whichever plan PostgreSQL picks.
        rows = (
            Client.objects.filter(pk__in=client_ids)
            .order_by("pk")
            .values("pk", "name", "cpf", "open_balance", "external_id", "creditor__name")
        )
        phones: dict[int, list[str]] = {}
        for client_id, number in (
            ClientPhone.objects.filter(client_id__in=client_ids, active=True)
            .order_by("client_id", "priority", "id")
            .values_list("client_id", "number")
        ):
            phones.setdefault(client_id, []).append(dial_number(number))
        for row in rows:
            numbers = phones.get(row["pk"], [])
            if not numbers:
                continue  # lost its last phone since the selection: marked failed below
            data = contact_data(row, base_url)
            identifier = str(row["pk"])
            batch.extend({"phone": number, "identifier": identifier, "data": data} for number in numbers)
            batch_phones[row["pk"]] = numbers
            if len(batch) >= export.batch_size:
                _post_batch(export, api, batch, batch_phones)
                batch, batch_phones = [], {}
                if progress:
                    progress(DialerExport.objects.values_list("sent_count", flat=True).get(pk=export.pk))
        no_phone = set(client_ids) - set(phones)
        if no_phone:
            _mark(export, no_phone, DialerExportItem.Status.FAILED, error=str(_("Sem telefone ativo no envio.")))
    if batch:
        _post_batch(export, api, batch, batch_phones)


def _drop_ineligible(export, client_ids) -> list[int]:
    """The same rule as the preview, again at sending time: who became "não ligar", got an agreement, paid off
    or reached the attempt cap since the selection is skipped with the reason, not sent."""
    verdicts = eligibility.classify(Client.objects.filter(pk__in=client_ids), export.tenant, export.campaign_id)
    blocked = defaultdict(list)
    for client_id, reason in verdicts.exclude(skip_reason=SEND).values_list("pk", "skip_reason"):
        blocked[eligibility.base_reason(reason)].append(client_id)
    if not blocked:
        return client_ids
    with transaction.atomic():
        export = DialerExport.objects.select_for_update().get(pk=export.pk)
        skipped = dict(export.skipped or {})
        for reason, ids in blocked.items():
            DialerExportItem.objects.filter(export=export, client_id__in=ids).update(
                status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
            )
            skipped[reason] = skipped.get(reason, 0) + len(ids)
        dropped = sum(len(ids) for ids in blocked.values())
        DialerExport.objects.filter(pk=export.pk).update(
            skipped=skipped, to_send_count=F("to_send_count") - dropped, heartbeat_at=timezone.now()
        )
    gone = {i for ids in blocked.values() for i in ids}
    return [i for i in client_ids if i not in gone]


# A batch whose answer was lost is removed and posted again at most this many times in one run.
UNKNOWN_OUTCOME_ATTEMPTS = 5


def _post_batch(export, api, batch, batch_phones):
    """POST one batch exactly once: an upload whose outcome is unknown is removed before it is posted again."""
    _mark_sending(export, batch_phones)
    for attempt in range(1, UNKNOWN_OUTCOME_ATTEMPTS + 1):
        try:
            api.add_mailing(export.campaign_id, export.list_id, batch)
        except ValidationError as error:
            _mark(export, batch_phones, DialerExportItem.Status.FAILED, error=error.message)
            return
        except UnknownOutcomeError as error:
            # 3C Plus may have stored the batch. Posting again would store it twice: take its pairs out
            # first. If that fails too, the items stay "enviando" and the resume removes them first.
            logger.warning("Envio %s: resposta de um lote perdida (%s), tentativa %d", export.pk, error.detail, attempt)
            api.delete_mailing(export.campaign_id, _mailing_keys(batch_phones.items()))
            if attempt == UNKNOWN_OUTCOME_ATTEMPTS:
                DialerExportItem.objects.filter(export=export, client_id__in=batch_phones).update(
                    status=DialerExportItem.Status.PENDING
                )
                raise
        except DialerError:
            # Refused before anything was stored (no connection, rate limited): nothing to undo.
            DialerExportItem.objects.filter(export=export, client_id__in=batch_phones).update(
                status=DialerExportItem.Status.PENDING
            )
            raise
        else:
            _mark(export, batch_phones, DialerExportItem.Status.SENT, phones=sum(len(n) for n in batch_phones.values()))
            return


def _mark_sending(export, batch_phones):
    """One statement: these clients' phones are about to be posted (so a rerun can find them)."""
    table = DialerExportItem._meta.db_table
    ids = list(batch_phones)
    values = [json.dumps(batch_phones[i]) for i in ids]
    sending = DialerExportItem.Status.SENDING
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS item SET status = %s, phones = data.phones::jsonb "
                f"FROM unnest(%s::bigint[], %s::text[]) AS data(client_id, phones) "
                f"WHERE item.export_id = %s AND item.client_id = data.client_id",
                [sending, ids, values, export.pk],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET status = %s, phones = %s WHERE export_id = %s AND client_id = %s",
                [(sending, v, export.pk, i) for i, v in zip(ids, values, strict=True)],
            )


def _mark(export, client_ids, status, *, error="", phones=0):
    client_ids = list(client_ids)
    fields = {"status": status, "error": error}
    if status == DialerExportItem.Status.SENT:
        fields["sent_at"] = timezone.now()
    with transaction.atomic():
        DialerExportItem.objects.filter(export=export, client_id__in=client_ids).update(**fields)
        counter = "sent_count" if status == DialerExportItem.Status.SENT else "failed_count"
        # Progress renews the run's lease; a batch that went through ends a series of pauses.
        DialerExport.objects.filter(pk=export.pk).update(
            **{counter: F(counter) + len(client_ids)},
            sent_phones=F("sent_phones") + phones,
            heartbeat_at=timezone.now(),
            pauses=0,
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
    """Queue again the removals whose retry is due (run by every worker at each heartbeat)."""
    due = list(
        DialerRemoval.objects.filter(
            status=DialerRemoval.Status.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:500]
    )
    claimed = []
    for removal_id in due:
        # Several workers sweep: only the one whose update took the row queues it.
        if DialerRemoval.objects.filter(pk=removal_id, next_attempt_at__isnull=False).update(next_attempt_at=None):
            claimed.append(removal_id)
            enqueue_removal(DialerRemoval(pk=removal_id))
    return claimed


def retry_removal(removal) -> bool:
    """ "Tentar novamente" on a failed removal."""
    retried = DialerRemoval.objects.filter(pk=removal.pk, status=DialerRemoval.Status.FAILED).update(
        status=DialerRemoval.Status.PENDING, attempts=0, error="", next_attempt_at=None
    )
    if retried:
        transaction.on_commit(lambda: enqueue_removal(removal))
    return bool(retried)
