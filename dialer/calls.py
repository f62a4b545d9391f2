"""Calls: the events 3C Plus reports about calls, each stored once and linked to the client.

Two ways in. The webhook: every delivery is logged and the events we use are stored. The reconciliation:
webhooks get lost (disabled, down, manual calls without events), so every few minutes each configured
tenant's call history since its watermark is read back (GET /calls); a call whose history event we do not
have (by call id) is stored, and a qualification made inside 3C Plus becomes the client's tabulação through
the qualification mapping.
"""

import dataclasses
import datetime
import hmac
import json
import logging
import re
import time
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from common.parsing import clamp_datetime
from core import services as core_services
from core.models import Client, ClientPhone
from dialer import connection as dialer_connection
from dialer import live, qualifications, webhooks
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
    tenant = (
        Tenant.objects.filter(webhook_secret_digest=secret_digest(secret), active=True)
        .only("id", "slug", "webhook_secret_encrypted")
        .first()
    )
    if tenant is None or not hmac.compare_digest(tenant.webhook_secret, secret):
        return None
    return tenant


# Secrets found valid lately, by digest: a delivery's body is read only once its secret is known good, and the
# deliveries of a known tenant need no lookup of their own for that (the storing statement checks the secret
# again, so a secret rotated or a tenant deactivated meanwhile stores nothing).
_known_secrets: dict[str, tuple[str, float]] = {}
KNOWN_SECRET_SECONDS = 60.0


def remembered_webhook_secret(secret: str) -> bool:
    """True when this secret was found valid in the last KNOWN_SECRET_SECONDS (compared in constant time); no
    database, so the ASGI endpoint asks it without a hop to the database threads."""
    known = _known_secrets.get(secret_digest(secret))
    return (
        known is not None
        and time.monotonic() - known[1] < KNOWN_SECRET_SECONDS
        and hmac.compare_digest(known[0], secret)
    )


def webhook_secret_is_valid(secret: str) -> bool:
    """True when an active tenant has this webhook secret: from the recent answers, else webhook_tenant.
    Both compare in constant time; an unknown secret is never remembered (a new tenant's works at once)."""
    if remembered_webhook_secret(secret):
        return True
    digest = secret_digest(secret)
    if webhook_tenant(secret) is None:
        return False
    if len(_known_secrets) > 10_000:  # bounded whatever happens: tenants are far fewer
        _known_secrets.clear()
    _known_secrets[digest] = (secret, time.monotonic())
    return True


def receive_webhook(secret: str, raw: bytes) -> tuple[int, dict] | None:
    """The webhook view's work: (HTTP status, answer), or None when no active tenant has this secret (a 404).

    On PostgreSQL an event we use costs one statement (store_and_log): the tenant found by the secret's digest,
    the client resolved, the event stored once, the delivery logged and the waiting consoles notified. The rest
    (bodies that are not JSON or not an event we use, and a delivery racing its own retry) goes through
    webhook_tenant and ingest_webhook.
    """
    reading = read_delivery(raw, secret)
    if reading.parsed is not None and connection.vendor == "postgresql":
        stored = store_and_log(secret_digest(secret), reading)
        if stored is None:
            return None
        if stored.event_id is not None:
            return answer_for(stored.event_id, stored.client_id, stored.created)
    tenant = webhook_tenant(secret)
    if tenant is None:
        return None
    return _ingest(tenant, reading)


def ingest_webhook(tenant, raw: bytes, secret: str = "") -> tuple[int, dict]:
    """(HTTP status, answer) for one webhook delivery; the delivery is logged whatever it held.

    3C Plus switches a webhook off after 50 failed deliveries, so any well-formed JSON gets a 2xx: the events
    we use are stored, anything else is kept as "não usado" in the delivery log (admin → Entregas do webhook).
    Only a body that is not JSON is answered with a 400. The webhook secret never reaches the log.
    """
    return _ingest(tenant, read_delivery(raw, secret))


@dataclasses.dataclass
class Reading:
    """A delivery as read, before anything is stored: what its log entry says, and the event if it is one."""

    size: int
    body: str  # as logged: credentials hidden, cut at BODY_LIMIT
    event: str = ""
    result: str = ""
    detail: str = ""
    status: int = 0
    answer: dict | None = None
    parsed: webhooks.ParsedEvent | None = None
    data: object = None  # the body as stored with the event (credentials hidden)
    text: str = ""  # the same as JSON text


def read_delivery(raw: bytes, secret: str) -> Reading:
    try:
        body = webhooks.clean(webhooks.load(raw))
    except WebhookError as error:
        text = webhooks.redact_text(webhooks.clean_text(raw[:BODY_LIMIT].decode("utf-8", "replace")), secret)
        return Reading(len(raw), text, "", Result.INVALID, error.message, 400, {"erro": error.message})
    text = json.dumps(body, ensure_ascii=False)
    if webhooks.may_hold_credentials(text, secret):  # most deliveries hold none: no second walk
        body = webhooks.redact(body, secret)
        text = json.dumps(body, ensure_ascii=False)
    reading = Reading(len(raw), text[:BODY_LIMIT], data=body, text=text)
    try:
        reading.parsed = webhooks.parse(body)
    except webhooks.UnusedEvent as unused:
        reading.event, reading.result, reading.detail = unused.event, Result.UNUSED, str(unused)
        reading.status, reading.answer = 202, {"usado": False, "motivo": str(unused)}
        return reading
    reading.event = reading.parsed.event
    return reading


def answer_for(event_id: int, client_id: int | None, created: bool) -> tuple[int, dict]:
    if not created:
        return 200, {"id": event_id, "repetido": True}
    return 201, {"id": event_id, "cliente": client_id}


def _ingest(tenant, reading: Reading) -> tuple[int, dict]:
    delivery = WebhookDelivery(tenant=tenant, size=reading.size, body=reading.body, event=reading.event)
    if reading.parsed is None:
        return _log(delivery, reading.result, reading.detail, reading.status, reading.answer)
    event, created = store_event(tenant, reading.parsed, reading.data)
    delivery.call_event, delivery.client_id = event, event.client_id
    delivery.result = Result.PROCESSED if created else Result.REPEATED
    delivery.save()
    return answer_for(event.pk, event.client_id, created)


# psycopg prepares a statement after this many runs unless asked (prepare=True): never, for the rest of Django's.
PREPARE_NEVER_BY_COUNT = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Stored:
    event_id: int | None  # None: the same event was being stored concurrently, not visible to this statement
    client_id: int | None
    created: bool


def store_and_log(digest: str, reading: Reading) -> Stored | None:
    """PostgreSQL, one statement: the active tenant with this webhook secret digest, the event's client (by
    identifier within the tenant, else by phone), the event stored once per kind and call, the delivery logged
    and, for a call connected to an agent, a NOTIFY for the waiting consoles (dialer.live). None when no tenant
    has the digest."""
    parsed = reading.parsed
    fields = event_fields(parsed)
    columns = [
        f.column for f in DialerCallEvent._meta.concrete_fields if f.name not in ("id", "tenant", "client", "raw")
    ]
    json_columns = {"mailing_data", "qualification"}
    params = {name: json.dumps(value) if name in json_columns else value for name, value in fields.items()}
    identifier = parsed.identifier or ""
    params.update(
        digest=digest,
        received_at=timezone.now(),
        client_pk=int(identifier) if re.fullmatch(r"[0-9]{1,18}", identifier) else None,
        e164=phone_e164(parsed.phone),
        # The event keeps the whole body even when the log cuts it.
        raw=reading.text,
        size=reading.size,
        body=reading.body,
        processed=Result.PROCESSED,
        repeated=Result.REPEATED,
        notify=parsed.event == DialerCallEvent.Event.CONNECTED and bool(fields["agent_id"]),
        # The delivery is answered without waiting for the disk (see the setting).
        synchronous_commit="off" if settings.DIALER_WEBHOOK_ASYNC_COMMIT else "on",
        channel=live.CHANNEL,
    )
    values = ", ".join(f"%({c})s::jsonb" if c in json_columns else f"%({c})s" for c in columns)
    event_table, delivery_table = DialerCallEvent._meta.db_table, WebhookDelivery._meta.db_table
    sql = f"""
        WITH tenant AS (
            SELECT id FROM {Tenant._meta.db_table} WHERE webhook_secret_digest = %(digest)s AND active
        ), found AS (
            SELECT COALESCE(
                (SELECT c.id FROM {Client._meta.db_table} c, tenant
                  WHERE c.tenant_id = tenant.id AND c.id = %(client_pk)s),
                (SELECT p.client_id FROM {ClientPhone._meta.db_table} p, tenant
                  WHERE p.tenant_id = tenant.id AND p.number = %(e164)s ORDER BY p.priority, p.id LIMIT 1)
            ) AS client_id
        ), stored AS (
            INSERT INTO {event_table} (tenant_id, {", ".join(columns)}, client_id, raw)
            SELECT tenant.id, {values}, found.client_id, %(raw)s::jsonb FROM tenant, found
            ON CONFLICT (tenant_id, event, call_id) DO NOTHING
            RETURNING id, client_id
        ), event AS (
            SELECT id, client_id, true AS created FROM stored
            UNION ALL
            SELECT e.id, e.client_id, false FROM {event_table} e, tenant
             WHERE e.tenant_id = tenant.id AND e.event = %(event)s AND e.call_id = %(call_id)s
               AND NOT EXISTS (SELECT FROM stored)
        ), logged AS (
            INSERT INTO {delivery_table} (tenant_id, received_at, event, result, detail, call_event_id, client_id,
                                          size, body)
            SELECT tenant.id, %(received_at)s, %(event)s, CASE WHEN created THEN %(processed)s ELSE %(repeated)s END,
                   '', event.id, event.client_id, %(size)s, %(body)s
              FROM tenant, event
        )
        SELECT event.id, event.client_id, event.created, set_config('synchronous_commit', %(synchronous_commit)s, true),
               CASE WHEN event.created AND %(notify)s
                    THEN pg_notify(%(channel)s, concat(tenant.id, ':', event.id, ':', %(agent_id)s::text)) END
          FROM tenant LEFT JOIN event ON true
    """
    # Bound and prepared on the server (Django's cursors bind on the client): PostgreSQL parses and plans this
    # statement once per connection instead of at every delivery (about two thirds of its cost). Django turns
    # psycopg's prepared statements off for the whole connection (prepare_threshold None, for poolers), which
    # would make prepare=True a no-op: this statement alone lifts that, and only while it runs.
    connection.ensure_connection()
    raw = connection.connection
    prepared = settings.DIALER_WEBHOOK_PREPARED
    threshold = raw.prepare_threshold
    if prepared:
        raw.prepare_threshold = PREPARE_NEVER_BY_COUNT
    try:
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            try:
                cursor.execute(sql, params, prepare=prepared)
            except (psycopg.errors.InvalidSqlStatementName, psycopg.errors.FeatureNotSupported):
                if not prepared or connection.in_atomic_block:
                    raise
                # psycopg thought the statement prepared, but the server no longer has it as it was: a pooler's
                # DISCARD ALL, or a migration that changed what it returns. Forget every prepared statement on both
                # sides (psycopg reads this command's result and clears its own cache) and prepare it again.
                logger.warning("Instrução preparada do webhook perdida no servidor; preparando de novo")
                cursor.execute("DEALLOCATE ALL")
                cursor.execute(sql, params, prepare=True)
            row = cursor.fetchone()
    finally:
        raw.prepare_threshold = threshold
    if row is None:
        return None
    return Stored(row[0], row[1], bool(row[2]))


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
    factory = api_factory or dialer_connection.api_for
    new = 0
    latest = sync.watermark
    try:
        with factory(tenant) as api:
            for report in api.list_calls(since.astimezone(DIALER_TIME_ZONE).strftime(REPORT_FORMAT)):
                at = _call_date(report) or now
                seen = min(at, now)  # a call dated in the future must not move the watermark past calls to come
                latest = max(latest, seen) if latest else seen
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
    """When the call happened, inside the window of sane dates: a report dated year 1 or 9999 would overflow
    wherever it is converted to UTC or to local time (every page that shows the client's calls)."""
    moment = None
    text = report.get("call_date_rfc3339")
    if isinstance(text, str) and text:
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
    if moment is None:
        try:
            moment = datetime.datetime.strptime(str(report.get("call_date") or ""), REPORT_FORMAT)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=DIALER_TIME_ZONE)
    return clamp_datetime(moment)


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
        qualifications.apply_dialer_qualification(
            tenant, client, qualification, phone=parsed.phone, call_id=parsed.call_id, at=at
        )
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
    for tenant in dialer_connection.configured_tenants().only("pk"):
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
