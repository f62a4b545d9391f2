"""Live removal: who must not be called any more (agreement, paid off, "não ligar") leaves the 3C Plus campaigns
it was sent to, one removal per campaign, sent by a worker task with retries."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import task_leases
from dialer.client import dial_number
from dialer.errors import TRANSIENT, DialerError
from dialer.models import DialerExportItem, DialerRemoval
from dialer.tenant_api import api_for

logger = logging.getLogger(__name__)


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
            contacts=mailing_keys([(client.pk, sorted(numbers))]),
            reason=str(reason)[:40],
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        for campaign_id, numbers in sorted(by_campaign.items())
        if numbers
    ]
    for removal in removals:
        transaction.on_commit(lambda r=removal: enqueue_removal(r))
    return removals


def remove_clients_from_lists(clients, *, phones=None, reason: str = "", user=None) -> list[DialerRemoval]:
    """remove_client_from_lists for many whole clients at once (a payment file paid off thousands): their sent items
    read a slice of clients per query, the removals written in one insert per slice; the same rows as one call per
    client."""
    if phones is not None:
        return [
            r for client in clients for r in remove_client_from_lists(client, phones=phones, reason=reason, user=user)
        ]
    requested_by = user if getattr(user, "is_authenticated", False) else None
    removals = []
    clients = list(clients)
    for start in range(0, len(clients), REMOVAL_SLICE):
        part = {client.pk: client for client in clients[start : start + REMOVAL_SLICE]}
        by_pair: dict[tuple[int, int], set[str]] = defaultdict(set)
        for client_id, campaign_id, numbers in DialerExportItem.objects.filter(
            client_id__in=part, status__in=[DialerExportItem.Status.SENT, DialerExportItem.Status.SENDING]
        ).values_list("client_id", "campaign_id", "phones"):
            by_pair[(client_id, campaign_id)].update(numbers)
        if not by_pair:
            continue
        with transaction.atomic():
            created = DialerRemoval.objects.bulk_create(
                DialerRemoval(
                    tenant_id=part[client_id].tenant_id,
                    client_id=client_id,
                    campaign_id=campaign_id,
                    contacts=mailing_keys([(client_id, sorted(numbers))]),
                    reason=str(reason)[:40],
                    requested_by=requested_by,
                )
                for (client_id, campaign_id), numbers in sorted(by_pair.items())
                if numbers
            )
            for removal in created:
                transaction.on_commit(lambda r=removal: enqueue_removal(r))
        removals.extend(created)
    return removals


REMOVAL_SLICE = 2000


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


def mailing_keys(client_phones) -> list[dict]:
    """The (phone, identifier) pairs that DELETE mailing/delete takes, from {client id: [phones]}."""
    return [{"phone": phone, "identifier": str(client_id)} for client_id, phones in client_phones for phone in phones]
