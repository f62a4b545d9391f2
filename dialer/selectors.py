"""Dialer reads used in several places (the workers' sweep, /healthz, the send preview, the Carteira filter)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core import task_leases
from dialer.models import CallSync, DialerExport, DialerExportItem, DialerRemoval


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
