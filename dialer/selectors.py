"""Dialer reads used in several places (the workers' sweep, /healthz, the send preview, the Carteira filter, the
atendimento's console and page)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.parsing import format_phone
from core import task_leases
from dialer.client import phone_e164
from dialer.ingestion import resolve_client
from dialer.models import CallSync, DialerCallEvent, DialerExport, DialerExportItem, DialerRemoval
from dialer.types import CallOnLine, ConnectedCall


def sent_items(*, tenant=None, campaign_id=None, since=None):
    """Export items 3C Plus confirmed (status "enviado"), to one campaign and since a moment if given."""
    items = DialerExportItem.objects.filter(status=DialerExportItem.Status.SENT)
    if tenant is not None:
        items = items.filter(tenant=tenant)
    if campaign_id:
        items = items.filter(campaign_id=campaign_id)
    if since is not None:
        items = items.filter(sent_at__gte=since)
    return items


# "Enviado ao discador", the dialer's own filter of the Carteira: its values and their windows.
SENT_TO_DIALER = "discador"
NEVER_SENT = "nunca"


def sent_to_dialer_q(value: str | None) -> Q:
    """The clients never sent to the dialer ("nunca"), or sent in the last 24 hours ("24h") or 7 days ("7d")."""
    if not value:
        return Q()
    if value == NEVER_SENT:
        return Q(~Exists(sent_items().filter(client=OuterRef("pk"))))
    hours = 24 if value == "24h" else 24 * 7
    recent = sent_items(since=timezone.now() - timedelta(hours=hours))
    return Q(Exists(recent.filter(client=OuterRef("pk"))))


# A worker holds these (freezing the selection, or sending) and renews their lease as it goes.
ACTIVE = (DialerExport.Status.PREPARING, DialerExport.Status.RUNNING)


def stranded_exports(now=None):
    """Preparing or running exports whose lease ran out, and paused ones whose next attempt is due."""
    now = now or timezone.now()
    expired = now - timedelta(seconds=settings.DIALER_EXPORT_LEASE_SECONDS)
    return DialerExport.objects.filter(
        Q(status__in=ACTIVE) & (Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True))
        | Q(status=DialerExport.Status.PAUSED, next_attempt_at__lte=now)
    )


def stuck_exports_count() -> int:
    """Exports with no progress for DIALER_EXPORT_STUCK_SECONDS: running, paused past their resume, or
    queued while no export is being sent (a queue behind a long export is busy, not stuck)."""
    since = timezone.now() - timedelta(seconds=settings.DIALER_EXPORT_STUCK_SECONDS)
    stale = Q(heartbeat_at__lt=since) | Q(heartbeat_at__isnull=True, created_at__lt=since)
    stuck = Q(status__in=ACTIVE) & stale | Q(status=DialerExport.Status.PAUSED, next_attempt_at__lt=since)
    sending = DialerExport.objects.filter(status__in=ACTIVE, heartbeat_at__gte=since).exists()
    if not sending:
        stuck |= Q(status=DialerExport.Status.QUEUED) & stale
    return DialerExport.objects.filter(stuck).count()


def stuck_removals_count() -> int:
    """Removals pending for WORKER_STUCK_SECONDS past their retry, or with no task to send them."""
    from dialer.tasks import remove_from_lists

    since = timezone.now() - timedelta(seconds=settings.WORKER_STUCK_SECONDS)
    pending = DialerRemoval.objects.filter(status=DialerRemoval.Status.PENDING)
    overdue = pending.filter(next_attempt_at__lt=since).count()
    lost = (
        pending.filter(next_attempt_at__isnull=True, created_at__lt=since)
        .exclude(pk__in=task_leases.queued_ids(remove_from_lists))
        .count()
    )
    return overdue + lost


def failing_reconciliations_count() -> int:
    """Active tenants whose every reconciliation run (GET /calls) has failed for DIALER_RECONCILE_FAILING_SECONDS."""
    since = timezone.now() - timedelta(seconds=settings.DIALER_RECONCILE_FAILING_SECONDS)
    return CallSync.objects.filter(failing_since__lt=since, tenant__active=True).count()


def _connected(tenant, agent_id: str):
    return DialerCallEvent.objects.filter(
        tenant=tenant, agent_id=agent_id, event=DialerCallEvent.Event.CONNECTED
    ).order_by("-id")


def last_connected_call(tenant, agent_id: str) -> int:
    """The id of the newest call connected to the agent, 0 if none."""
    return _connected(tenant, agent_id).values_list("id", flat=True).first() or 0


def next_connected_call(tenant, agent_id: str, after: int) -> ConnectedCall | None:
    """The oldest call connected to the agent after `after` (within the last ATTENDANCE_CALL_REPLAY_MINUTES): read
    again with its id for the next."""
    # The oldest after `after`, so a console replays in order every call that connected while it was away;
    # calls older than the replay window are over by now, and a console back from hours asleep skips them.
    since = timezone.now() - timedelta(minutes=settings.ATTENDANCE_CALL_REPLAY_MINUTES)
    recent = _connected(tenant, agent_id).filter(id__gt=after, received_at__gte=since)
    event = recent.select_related("client").order_by("id").first()
    if event is None:
        return None
    if event.client_id is None:
        # The number was unknown when the call arrived; the client may have been found or added since.
        event.client = resolve_client(tenant, event)
        if event.client is not None:
            DialerCallEvent.objects.filter(pk=event.pk, client__isnull=True).update(client=event.client)
    phone = format_phone(phone_e164(event.phone) or "") or event.phone
    return ConnectedCall(id=event.pk, call_id=event.call_id, phone=phone, client=event.client)


def call_on_line(tenant, call_id: str) -> CallOnLine | None:
    """The connected call with that id, None when the dialer never saw it."""
    # Both reads use the (tenant, event, call_id) unique index.
    events = DialerCallEvent.objects.filter(tenant=tenant, call_id=call_id)
    phone = events.filter(event=DialerCallEvent.Event.CONNECTED).values_list("phone", flat=True).first()
    if phone is None:
        return None
    over = events.filter(event=DialerCallEvent.Event.HISTORY).exists()
    return CallOnLine(phone=format_phone(phone_e164(phone) or "") or phone, live=not over)
