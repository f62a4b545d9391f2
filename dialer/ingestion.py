"""Webhook ingestion: a delivery's secret checked, its event stored once and the delivery logged, in two dialects.

On PostgreSQL one statement does it all (store_with_statement): the tenant found by the secret's digest, the client
resolved, the event stored once per kind and call, the delivery logged and the waiting consoles notified. Elsewhere
(SQLite, the demo) the ORM does the same in a few queries (store_with_orm). store() picks one by the connection's
vendor; tests/dialer/test_ingestion_parity.py feeds both the same deliveries and asserts the same stored rows.

Both compare the secret in constant time before anything is stored: the tenant is found by the secret's digest (an
index lookup on a value the caller cannot choose), then hmac.compare_digest decides (webhook_tenant). What reads a
delivery and answers it is dialer.calls (receive_webhook).
"""

import dataclasses
import hmac
import json
import logging
import re
import time

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.models import Client, ClientPhone
from dialer import live, webhooks
from dialer.client import phone_e164
from dialer.models import DialerCallEvent, WebhookDelivery
from tenants.models import Tenant, secret_digest

logger = logging.getLogger(__name__)
Result = WebhookDelivery.Result


# The secret ------------------------------------------------------------------------------------------
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


@dataclasses.dataclass
class Reading:
    """A delivery as read, before anything is stored: what its log entry says, and the event if it is one."""

    size: int
    body: str  # as logged: credentials hidden, cut at dialer.calls.BODY_LIMIT
    event: str = ""
    result: str = ""
    detail: str = ""
    status: int = 0
    answer: dict | None = None
    parsed: webhooks.ParsedEvent | None = None
    data: object = None  # the body as stored with the event (credentials hidden)
    text: str = ""  # the same as JSON text


# psycopg prepares a statement after this many runs unless asked (prepare=True): never, for the rest of Django's.
PREPARE_NEVER_BY_COUNT = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Stored:
    event_id: int | None  # None: the same event was being stored concurrently, not visible to this statement
    client_id: int | None
    created: bool


def store_with_statement(secret: str, reading: Reading) -> Stored | None:
    """PostgreSQL, one statement: the active tenant with this webhook secret's digest, the event's client (by
    identifier within the tenant, else by phone), the event stored once per kind and call, the delivery logged
    and, for a call connected to an agent, a NOTIFY for the waiting consoles (dialer.live). None when no active
    tenant has this secret.

    The secret is compared in constant time first (webhook_secret_is_valid: from memory for a secret found valid
    lately, which the endpoints have just done); the statement finds the tenant by the digest again, so a secret
    rotated or a tenant deactivated meanwhile stores nothing."""
    if not webhook_secret_is_valid(secret):
        return None
    parsed = reading.parsed
    fields = event_fields(parsed)
    columns = [
        f.column for f in DialerCallEvent._meta.concrete_fields if f.name not in ("id", "tenant", "client", "raw")
    ]
    json_columns = {"mailing_data", "qualification"}
    params = {name: json.dumps(value) if name in json_columns else value for name, value in fields.items()}
    identifier = parsed.identifier or ""
    params.update(
        digest=secret_digest(secret),
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


# Storing: the event once, the delivery logged ---------------------------------------------------------
def store(secret: str, reading: Reading) -> Stored | None:
    """Store the event of a delivery that holds one (reading.parsed) and log the delivery: on PostgreSQL in one
    statement, elsewhere through the ORM. None when no active tenant has this secret (nothing is stored)."""
    if connection.vendor == "postgresql":
        return store_with_statement(secret, reading)
    return store_with_orm(secret, reading)


def store_with_orm(secret: str, reading: Reading) -> Stored | None:
    """The ORM's way (SQLite, the demo): the tenant found and its secret compared (webhook_tenant), then
    store_for_tenant."""
    tenant = webhook_tenant(secret)
    if tenant is None:
        return None
    return store_for_tenant(tenant, reading)


def store_for_tenant(tenant, reading: Reading) -> Stored:
    """The event stored once per kind and call (store_event) and the delivery logged as processed or repeated."""
    event, created = store_event(tenant, reading.parsed, reading.data)
    WebhookDelivery.objects.create(
        tenant=tenant,
        size=reading.size,
        body=reading.body,
        event=reading.event,
        call_event=event,
        client_id=event.client_id,
        result=Result.PROCESSED if created else Result.REPEATED,
    )
    return Stored(event.pk, event.client_id, created)


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
