"""Calls: the events 3C Plus reports about calls, each stored once and linked to the client.

Two ways in. The webhook: every delivery is logged and the events we use are stored. The reconciliation:
webhooks get lost (disabled, down, manual calls without events), so every few minutes each configured
tenant's call history since its watermark is read back (GET /calls); a call whose history event we do not
have (by call id) is stored, and a qualification made inside 3C Plus becomes the client's tabulação through
the qualification mapping.
"""

import datetime
import hmac
import json
import logging
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core import services as core_services
from core.models import Client, ClientPhone
from dialer import connection, webhooks
from dialer.client import phone_e164
from dialer.errors import DialerError, WebhookError
from dialer.models import CallSync, DialerCallEvent, Qualification, QualificationMapping, WebhookDelivery
from tenants.models import Membership, Tenant, secret_digest

logger = logging.getLogger(__name__)

# 3C Plus reports and filters call dates in the company's local time (Y-m-d H:i:s, no offset).
DIALER_TIME_ZONE = ZoneInfo("America/Sao_Paulo")
REPORT_FORMAT = "%Y-%m-%d %H:%M:%S"
BODY_LIMIT = 64 * 1024  # characters of a body kept in the delivery log
RETENTION = datetime.timedelta(days=14)
Result = WebhookDelivery.Result


# The webhook -----------------------------------------------------------------------------------------
def webhook_tenant(secret: str):
    """The active tenant whose webhook URL carries this secret, or None.

    Found by the secret's digest (an index lookup on a value the caller cannot choose), then compared in
    constant time.
    """
    tenant = Tenant.objects.filter(webhook_secret_digest=secret_digest(secret), active=True).first()
    if tenant is None or not hmac.compare_digest(tenant.webhook_secret, secret):
        return None
    return tenant


def ingest_webhook(tenant, raw: bytes, secret: str = "") -> tuple[int, dict]:
    """(HTTP status, answer) for one webhook delivery; the delivery is logged whatever it held.

    3C Plus switches a webhook off after 50 failed deliveries, so any well-formed JSON gets a 2xx: the events
    we use are stored, anything else is kept as "não usado" in the delivery log (admin → Entregas do webhook).
    Only a body that is not JSON is answered with a 400. The webhook secret never reaches the log.
    """
    delivery = WebhookDelivery(tenant=tenant, size=len(raw))
    try:
        body = webhooks.clean(webhooks.load(raw))
    except WebhookError as error:
        delivery.body = webhooks.redact_text(webhooks.clean_text(raw[:BODY_LIMIT].decode("utf-8", "replace")), secret)
        return _log(delivery, Result.INVALID, error.message, 400, {"erro": error.message})
    body = webhooks.redact(body, secret)
    delivery.body = json.dumps(body, ensure_ascii=False)[:BODY_LIMIT]
    try:
        parsed = webhooks.parse(body)
    except webhooks.UnusedEvent as unused:
        delivery.event = unused.event
        return _log(delivery, Result.UNUSED, str(unused), 202, {"usado": False, "motivo": str(unused)})
    delivery.event = parsed.event
    event, created = store_event(tenant, parsed, body)
    delivery.call_event, delivery.client_id = event, event.client_id
    if not created:
        return _log(delivery, Result.REPEATED, "", 200, {"id": event.pk, "repetido": True})
    return _log(delivery, Result.PROCESSED, "", 201, {"id": event.pk, "cliente": event.client_id})


def store_event(tenant, parsed: webhooks.ParsedEvent, body) -> tuple[DialerCallEvent, bool]:
    """Each event once per kind and call: 3C Plus retries deliveries."""
    existing = DialerCallEvent.objects.filter(tenant=tenant, event=parsed.event, call_id=parsed.call_id).first()
    if existing:
        return existing, False
    fields = event_fields(parsed)
    try:
        with transaction.atomic():
            event = DialerCallEvent.objects.create(
                tenant=tenant, client=resolve_client(tenant, parsed), raw=body, **fields
            )
    except IntegrityError:  # the same delivery, concurrently
        return DialerCallEvent.objects.get(tenant=tenant, event=parsed.event, call_id=parsed.call_id), False
    return event, True


def _log(delivery: WebhookDelivery, result, detail: str, status: int, answer: dict) -> tuple[int, dict]:
    delivery.result, delivery.detail = result, detail[:300]
    delivery.save()
    return status, answer


def prune_deliveries() -> int:
    """Forget the deliveries older than the retention (a daily worker task, not the webhook's request)."""
    deleted, _by_model = WebhookDelivery.objects.filter(received_at__lt=timezone.now() - RETENTION).delete()
    return deleted


def resolve_client(tenant, parsed):
    """By identifier (our client id) within the tenant, else by phone."""
    if re.fullmatch(r"[0-9]{1,18}", parsed.identifier or ""):
        client = Client.objects.filter(tenant=tenant, pk=int(parsed.identifier)).first()
        if client:
            return client
    e164 = phone_e164(parsed.phone)
    if e164:
        phone = ClientPhone.objects.filter(tenant=tenant, number=e164).select_related("client").first()
        if phone:
            return phone.client
    return None


def event_fields(parsed: webhooks.ParsedEvent) -> dict:
    """The event's columns; 3C Plus sends what it sends: text longer than our column is cut, not a 500."""
    fields = {}
    for name, value in vars(parsed).items():
        field = DialerCallEvent._meta.get_field(name)
        if isinstance(value, str) and getattr(field, "max_length", None):
            value = value[: field.max_length]
        fields[name] = value
    return fields


# The reconciliation ----------------------------------------------------------------------------------
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
    except WebhookError:
        return 0
    event_kind = DialerCallEvent.Event.HISTORY
    if DialerCallEvent.objects.filter(tenant=tenant, event=event_kind, call_id=parsed.call_id).exists():
        return 0
    qualification = None
    if parsed.qualification.get("id"):
        qualification = Qualification.objects.filter(tenant=tenant, remote_id=parsed.qualification["id"]).first()
        if qualification:
            parsed.qualification = {"id": qualification.remote_id, "name": qualification.name}
    client = resolve_client(tenant, parsed)
    fields = event_fields(parsed)
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
