"""The run's uploads to 3C Plus: several batches in flight, each posted exactly once, and whoever must not be
called any more kept out of a batch about to go, or removed from the campaign once it has landed."""

import dataclasses
import logging
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone

from core.models import Client, ClientPhone
from dialer import eligibility
from dialer.client import MailingBatch, dial_number
from dialer.errors import DialerError, UnknownOutcomeError, ValidationError
from dialer.exports.any_of import client_in
from dialer.exports.items import mark, mark_sending, skip
from dialer.models import DialerExport, DialerExportItem, DialerRemoval
from dialer.removals import enqueue_removal, mailing_keys

logger = logging.getLogger(__name__)

SEND = eligibility.SEND

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
            api.delete_mailing(export.campaign_id, mailing_keys(batch_phones.items()))
            if attempt == UNKNOWN_OUTCOME_ATTEMPTS:
                return _Outcome(batch_phones, DialerExportItem.Status.PENDING, error, lost)
        except DialerError as error:
            # Refused before anything was stored (no connection, rate limited): nothing to undo.
            return _Outcome(batch_phones, DialerExportItem.Status.PENDING, error, lost)
        else:
            return _Outcome(batch_phones, DialerExportItem.Status.SENT, None, lost)
    raise AssertionError("unreachable")


class Uploads:
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
        mark_sending(
            self.export, {client_id: numbers for _batch, phones in batches for client_id, numbers in phones.items()}
        )
        for index, (batch, batch_phones) in enumerate(batches):
            while self.failure is None and len(self.in_flight) >= min(self.limit, 1 + self.clean // RAMP_BATCHES):
                self._collect()
            if self.failure is not None:
                never_posted = [client_id for _batch, phones in batches[index:] for client_id in phones]
                DialerExportItem.objects.filter(client_in(never_posted), export=self.export).update(
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
                mark(self.export, outcome.batch_phones, outcome.status, error=outcome.error.message)
            else:
                DialerExportItem.objects.filter(client_in(outcome.batch_phones), export=self.export).update(
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
                DialerExportItem.objects.filter(client_in(ids), export=self.export).update(
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
    clients = Client.objects.filter(client_in(client_phones, "pk")).annotate(stop=why).exclude(stop=SEND)
    stopped = {
        client_id: _Stop(reason, _removal_reason(marked, status), list(client_phones[client_id]))
        for client_id, reason, marked, status in clients.values_list("pk", "stop", "do_not_call_reason", "status")
    }
    others = client_phones.keys() - stopped.keys()
    if not others:
        return stopped
    phones_off = ClientPhone.objects.filter(client_in(others)).exclude(do_not_call_reason="")
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
    skip(export, blocked)
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
            contacts=mailing_keys([(client_id, stop.numbers)]),
            reason=stop.removal_reason,
        )
        for client_id, stop in sorted(stopped.items())
    )
    for removal in removals:
        transaction.on_commit(lambda r=removal: enqueue_removal(r))
    logger.info("Envio %s: %d cliente(s) marcados para não ligar durante o envio; removidos.", export.pk, len(removals))
