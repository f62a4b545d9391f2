"""Reconciliation: the call history read back from 3C Plus (GET /calls) fills what the webhook missed.

Webhooks get lost (disabled, down, manual calls without events). Every few minutes each configured tenant's
reports since its watermark are read; a call whose history event we do not have (by call id) is stored, and a
qualification made inside 3C Plus becomes the client's tabulação through the qualification mapping.
"""

import datetime
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core import services as core_services
from core.models import Client
from dialer import connection, webhooks
from dialer.errors import DialerError
from dialer.models import CallSync, DialerCallEvent, Qualification, QualificationMapping
from tenants.models import Membership

logger = logging.getLogger(__name__)

# 3C Plus reports and filters call dates in the company's local time (Y-m-d H:i:s, no offset).
DIALER_TIME_ZONE = ZoneInfo("America/Sao_Paulo")
REPORT_FORMAT = "%Y-%m-%d %H:%M:%S"


def reconcile_calls(tenant, *, api_factory=None, now=None) -> int:
    """Read the tenant's call reports since its watermark; store the missing ones. Returns how many were new."""
    now = now or timezone.now()
    sync, _created = CallSync.objects.get_or_create(tenant=tenant)
    lookback = datetime.timedelta(seconds=settings.DIALER_RECONCILE_OVERLAP_SECONDS)
    since = (sync.watermark or now - datetime.timedelta(hours=settings.DIALER_RECONCILE_FIRST_HOURS)) - lookback
    factory = api_factory or connection.api_for
    new = 0
    latest = sync.watermark
    try:
        with factory(tenant) as api:
            for report in api.list_calls(since.astimezone(DIALER_TIME_ZONE).strftime(REPORT_FORMAT)):
                at = _call_date(report) or now
                latest = max(latest, at) if latest else at
                new += _store(tenant, report, at)
    except DialerError as error:
        CallSync.objects.filter(pk=sync.pk).update(last_run_at=now, last_error=error.message)
        logger.warning("Reconciliação de ligações da empresa %s falhou: %s", tenant.slug, error)
        return new
    CallSync.objects.filter(pk=sync.pk).update(
        watermark=latest, last_run_at=now, last_error="", recovered=sync.recovered + new
    )
    if new:
        logger.info("Reconciliação: %d ligação(ões) da empresa %s recuperada(s) do 3C Plus", new, tenant.slug)
    return new


def _call_date(report) -> datetime.datetime | None:
    text = report.get("call_date_rfc3339")
    if text:
        try:
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
    try:
        return datetime.datetime.strptime(report.get("call_date") or "", REPORT_FORMAT).replace(tzinfo=DIALER_TIME_ZONE)
    except ValueError:
        return None


def _store(tenant, report: dict, at) -> int:
    try:
        parsed = webhooks.parse_report(report)
    except webhooks.WebhookError:
        return 0
    event_kind = DialerCallEvent.Event.HISTORY
    if DialerCallEvent.objects.filter(tenant=tenant, event=event_kind, call_id=parsed.call_id).exists():
        return 0
    qualification = None
    if parsed.qualification.get("id"):
        qualification = Qualification.objects.filter(tenant=tenant, remote_id=parsed.qualification["id"]).first()
        if qualification:
            parsed.qualification = {"id": qualification.remote_id, "name": qualification.name}
    client = webhooks.resolve_client(tenant, parsed)
    fields = webhooks.event_fields(parsed)
    try:
        with transaction.atomic():
            event = DialerCallEvent.objects.create(tenant=tenant, client=client, raw=report, **fields)
            # When the call happened, not when we read it: the attempt caps count by this.
            DialerCallEvent.objects.filter(pk=event.pk).update(received_at=at)
    except IntegrityError:  # the webhook delivered it meanwhile
        return 0
    if client is not None and qualification is not None:
        _record_tabulation(tenant, client, parsed, qualification, report, at)
    return 1


def _record_tabulation(tenant, client: Client, parsed, qualification, report, at):
    """A qualification made inside 3C Plus becomes the tabulação of the operator who made it."""
    mapping = QualificationMapping.objects.filter(tenant=tenant, qualification=qualification).first()
    if mapping is None:
        return
    connected = DialerCallEvent.objects.filter(
        tenant=tenant, call_id=parsed.call_id, event=DialerCallEvent.Event.CONNECTED
    ).first()
    operator = None
    if connected and connected.agent_id:
        membership = Membership.objects.filter(tenant=tenant, threecplus_agent_id=connected.agent_id).first()
        operator = membership.user if membership else None
    operator = operator or client.assigned_operator
    core_services.call_qualified(
        tenant,
        client,
        mapping.behavior,
        call_id=parsed.call_id,
        operator=operator,
        note=str(report.get("qualification_note") or "") if report.get("qualification_note") is not True else "",
        at=at,
    )


def reconcile_due_tenants() -> list[int]:
    """Periodic (every worker's heartbeat): queue the reconciliation of each configured tenant that is due.

    A tenant is claimed by a conditional update of its last run, so two workers never queue it twice.
    """
    from dialer.tasks import reconcile_tenant_calls

    now = timezone.now()
    due_before = now - datetime.timedelta(seconds=settings.DIALER_RECONCILE_EVERY_SECONDS)
    queued = []
    for tenant in connection.configured_tenants().only("pk"):
        sync, _created = CallSync.objects.get_or_create(tenant=tenant)
        claimed = (
            CallSync.objects.filter(pk=sync.pk)
            .filter(Q(last_run_at__isnull=True) | Q(last_run_at__lt=due_before))
            .update(last_run_at=now)
        )
        if claimed:
            reconcile_tenant_calls.enqueue(tenant.pk)
            queued.append(tenant.pk)
    return queued
