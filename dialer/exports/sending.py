"""The worker's run of an export: the selection frozen if it was queued unfrozen, then the pending items read in
rounds, checked against the rule again, and posted to 3C Plus in batches (dialer.exports.uploads); paused on a
transient failure, resumed after a crash (dialer.exports.recovery)."""

import functools
import json
import logging
from collections import defaultdict
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common.reversing import url_with_id
from core.models import Client, ClientPhone
from dialer import eligibility
from dialer.client import MailingBatch, dial_number
from dialer.errors import TRANSIENT, DialerError, UnknownOutcomeError
from dialer.exports.any_of import client_in
from dialer.exports.freeze import freeze
from dialer.exports.items import export_lock, finish, mark, skip
from dialer.exports.recovery import recover_unacknowledged
from dialer.exports.selection import replay_selection
from dialer.exports.uploads import UNKNOWN_OUTCOME_ATTEMPTS, Uploads
from dialer.models import DialerExport, DialerExportItem
from dialer.tenant_api import api_for

logger = logging.getLogger(__name__)

SEND = eligibility.SEND


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
        queryset = replay_selection(export)
    except DialerError as error:
        return finish(export, DialerExport.Status.FAILED, error.message)
    export = freeze(export, queryset)
    DialerExport.objects.filter(pk=export.pk).update(selection_frozen=True, status=DialerExport.Status.QUEUED)
    export.refresh_from_db()
    return export


# The client columns a mailing contact carries, in the order contact_data takes them.
CONTACT_FIELDS = ("pk", "name", "cpf", "open_balance", "external_id", "creditor__name", "state", "postal_code", "city")


def contact_data(
    client_id, name, cpf, open_balance, external_id, creditor, state, postal_code, city, client_url
) -> dict:
    """The contact's free `data`; `uf` and `fuso` (the debtor's time zone) let an agent, and the sandbox's dialler,
    read the debtor's local time."""
    region = eligibility.client_region(SimpleNamespace(state=state, postal_code=postal_code, city=city))
    return {
        "nome": name,
        "cpf": cpf,
        "valor_em_aberto": f"{open_balance:.2f}",
        "credor": creditor,
        "external_id": external_id,
        "url_atendimento": client_url(client_id),
        "uf": state,
        "fuso": _zone_name(region),
    }


@functools.lru_cache(maxsize=64)
def _zone_name(region: str) -> str:
    return eligibility.region_time_zone(region).key


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
            recover_unacknowledged(export, api)
            _send_pending(export, api, progress)
            if export.list_weight:
                api.update_list_weight(export.campaign_id, export.list_id, export.list_weight)
    except TRANSIENT as error:
        # 5xx, timeouts, rate limits beyond the retries: what was sent stays sent.
        return _pause(export, error.message)
    except DialerError as error:
        # Waiting does not fix these (token, missing campaign, refused data): say why; "Continuar envio"
        # resumes once the cause is fixed.
        return finish(export, DialerExport.Status.FAILED, error.message)
    failed = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED).exists()
    if not failed:
        return finish(export, DialerExport.Status.DONE, None)
    # Every batch refused (422) is a failed export, not a partly done one.
    sent = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENT).exists()
    return finish(export, DialerExport.Status.PARTIAL if sent else DialerExport.Status.FAILED, None)


def _pause(export, reason: str) -> DialerExport:
    """Stop for now and come back after an exponential backoff; fail after too many pauses in a row."""
    pauses = DialerExport.objects.values_list("pauses", flat=True).get(pk=export.pk) + 1
    if pauses > settings.DIALER_EXPORT_MAX_PAUSES:
        return finish(
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


def _send_pending(export, api, progress=None):
    uploads = Uploads(export, api, progress)
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
            ClientPhone.objects.filter(client_in(row[0] for row in rows), active=True)
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
            mark(export, no_phone, DialerExportItem.Status.FAILED, error=str(_("Sem telefone ativo no envio.")))
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
            Client.objects.filter(client_in(client_ids, "pk")),
            export.tenant,
            export.campaign_id,
            among=Q(client_id__gte=client_ids[0], client_id__lte=client_ids[-1]),
        )
        .order_by("pk")
        .values_list("skip_reason", *CONTACT_FIELDS)
    )
    blocked = defaultdict(list)
    held = []
    for row in rows:
        if row[0] != SEND and eligibility.is_held(row[0]):
            held.append(row[1])
        elif row[0] != SEND:
            blocked[eligibility.base_reason(row[0])].append(row[1])
    skip(export, blocked)
    if held:
        # Accepted, held off the list for now: the projection's sweep adds them when nothing holds them.
        DialerExportItem.objects.filter(client_in(held), export=export).update(
            status=DialerExportItem.Status.HELD, error=""
        )
    return [row[1:] for row in rows if row[0] == SEND]
