"""Calls: the events 3C Plus reports about calls, each stored once and linked to the client.

Two ways in. The webhook: every delivery is logged and the events we use are stored. The reconciliation:
webhooks get lost (disabled, down, manual calls without events), so every few minutes each configured
tenant's call history since its watermark is read back (GET /calls); a call whose history event we do not
have (by call id) is stored, and a qualification made inside 3C Plus becomes the client's tabulação through
the qualification mapping.
"""

import dataclasses
import datetime
import itertools
import json
import logging
import math
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from common import periodic
from common.parsing import clamp_datetime, clean_text, parse_id
from core import hooks
from core.models import Client
from dialer import ingestion, qualifications, tenant_api, webhooks
from dialer.errors import DialerError, MalformedResponseError, WebhookError
from dialer.ingestion import Reading, event_fields, resolve_client, webhook_tenant
from dialer.models import (
    CallSync,
    DialerCallEvent,
    DialerExport,
    QualificationMapping,
    WebhookDelivery,
)
from dialer.same_call import same_call_ids
from dialer.settings_schema import CAMPAIGN
from tenants.models import Membership

logger = logging.getLogger(__name__)

# 3C Plus reports and filters call dates in the company's local time (Y-m-d H:i:s, no offset).
DIALER_TIME_ZONE = ZoneInfo("America/Sao_Paulo")
REPORT_FORMAT = "%Y-%m-%d %H:%M:%S"
BODY_LIMIT = 64 * 1024  # characters of a body kept in the delivery log
RETENTION = datetime.timedelta(days=14)
Result = WebhookDelivery.Result


def receive_webhook(secret: str, raw: bytes) -> tuple[int, dict] | None:
    """The webhook view's work: (HTTP status, answer), or None when no active tenant has this secret (a 404).

    An event we use is stored and its delivery logged by dialer.ingestion (on PostgreSQL one statement: the tenant
    found by the secret's digest, the client resolved, the event stored once, the delivery logged and the waiting
    consoles notified), the secret compared in constant time first. The rest (bodies that are not JSON or not an
    event we use, and a delivery racing its own retry) goes through webhook_tenant and ingest_webhook.
    """
    stored = store_webhook(secret, raw)
    if stored is None:
        return None
    answer, after = stored
    after_commit(after)
    return answer


def store_webhook(secret: str, raw: bytes) -> tuple[tuple[int, dict], tuple | None] | None:
    """What receive_webhook stores, nothing else: (the answer, what after_commit does once it is committed), or
    None for an unknown secret. dialer.group_commit stores many deliveries in one transaction this way."""
    reading = read_delivery(raw, secret)
    if reading.parsed is not None:
        stored = ingestion.store(secret, reading)
        if stored is None:
            return None
        if stored.event_id is not None:
            after = (stored.event_id, reading.parsed) if stored.created else None
            return answer_for(stored.event_id, stored.client_id, stored.created), after
    tenant = webhook_tenant(secret)
    if tenant is None:
        return None
    return _store_delivery(tenant, reading)


def after_commit(after: tuple | None) -> None:
    """The follow-up of a stored delivery (a history qualified inside 3C Plus becomes a tabulação), in its own
    transactions: never inside a batch's, where its failure would undo the other deliveries."""
    if after is not None:
        tabulate_delivered_history(*after)


def ingest_webhook(tenant, raw: bytes, secret: str = "") -> tuple[int, dict]:
    """(HTTP status, answer) for one webhook delivery; the delivery is logged whatever it held.

    3C Plus switches a webhook off after 50 failed deliveries, so any well-formed JSON gets a 2xx: the events
    we use are stored, anything else is kept as "não usado" in the delivery log (admin → Entregas do webhook).
    Only a body that is not JSON is answered with a 400. The webhook secret never reaches the log.
    """
    return _ingest(tenant, read_delivery(raw, secret))


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
    answer, after = _store_delivery(tenant, reading)
    after_commit(after)
    return answer


def _store_delivery(tenant, reading: Reading) -> tuple[tuple[int, dict], tuple | None]:
    if reading.parsed is None:
        delivery = WebhookDelivery(tenant=tenant, size=reading.size, body=reading.body, event=reading.event)
        return _log(delivery, reading.result, reading.detail, reading.status, reading.answer), None
    stored = ingestion.store_for_tenant(tenant, reading)
    after = (stored.event_id, reading.parsed) if stored.created else None
    return answer_for(stored.event_id, stored.client_id, stored.created), after


def _log(delivery: WebhookDelivery, result, detail: str, status: int, answer: dict) -> tuple[int, dict]:
    delivery.result, delivery.detail = result, detail[:300]
    delivery.save()
    return status, answer


def prune_deliveries() -> int:
    """Forget the deliveries older than the retention (a daily worker task, not the webhook's request)."""
    deleted, _by_model = WebhookDelivery.objects.filter(received_at__lt=timezone.now() - RETENTION).delete()
    return deleted


# The reconciliation ----------------------------------------------------------------------------------
# A watermark further back than this (a tenant whose reconciliation was down for weeks, or a date stored before
# dates were bounded) is read from here: a webhook that old is not coming back, and a pass must end.
MAX_LOOKBACK = datetime.timedelta(days=30)
MAX_CAMPAIGNS = 100  # in one GET /calls query string (campaigns[]=…): a tenant pushes to a handful
# What a report may hold once bounded: deeper, longer or larger than this is not a call report.
REPORT_MAX_DEPTH = 16
REPORT_MAX_TEXT = 2000
REPORT_MAX_ITEMS = 200
REPORT_MAX_ID = 120  # characters of a call id (our column's length)
BIGINT = 2**63
# What reading one report can raise on a hostile value, besides the typed errors: caught per report, so one bad
# report is counted and skipped and the run goes on. The database being away is not among them: it stops the run.
REPORT_ERRORS = (DialerError, ValueError, TypeError, LookupError, AttributeError, ArithmeticError, DataError)


def pushed_campaigns(tenant) -> list[int]:
    """The campaigns whose calls can be ours: those the tenant's exports went to (the latest first) and its default
    campaign. GET /calls is asked for these only, not for every call of the company."""
    recent = (
        DialerExport.objects.filter(tenant=tenant)
        .values("campaign_id")
        .annotate(last=Max("created_at"))
        .order_by("-last")
        .values_list("campaign_id", flat=True)[:MAX_CAMPAIGNS]
    )
    default = parse_id(tenant.setting(CAMPAIGN))
    return list(dict.fromkeys([*([default] if default else []), *recent]))[:MAX_CAMPAIGNS]


@dataclasses.dataclass
class Run:
    """What one run of the reconciliation did."""

    new: int = 0
    bad: int = 0
    last_bad: str = ""
    page: int = 1  # the page being read: where the next run starts unless the pass finished
    finished: bool = False  # the pass read its last page
    warning: str = ""  # the pass ended early for this reason


def reconcile_calls(tenant, *, api_factory=None, now=None) -> int:
    """Read the tenant's call reports since its watermark; store the missing ones. Returns how many were new.

    A pass reads the window [watermark - overlap, start of the pass] of the campaigns we pushed to, at most
    DIALER_RECONCILE_MAX_PAGES pages per run (one tenant never holds the shared worker): the next run continues it
    where it stopped, and the watermark moves to the window's end once the last page is read. A report that cannot
    be read is counted, kept for the admin (bad_reports, last_bad_report) and skipped; a failure of 3C Plus itself
    ends the run (last_error, failing_since) and the next run asks for the same page again.
    """
    now = now or timezone.now()
    sync, _created = CallSync.objects.get_or_create(tenant=tenant)
    campaigns = pushed_campaigns(tenant)
    if not campaigns:  # nothing was ever sent to 3C Plus: no call can be ours
        CallSync.objects.filter(pk=sync.pk).update(last_run_at=now, last_error="", failing_since=None)
        return 0
    if sync.next_page and sync.pass_start and sync.pass_end:
        start, end, page = sync.pass_start, sync.pass_end, sync.next_page
    else:
        start, end, page = _window_start(sync, now), now, 1
    factory = api_factory or tenant_api.api_for
    run = Run(page=page)
    try:
        with factory(tenant) as api:
            _read_pages(tenant, api, run, start, end, campaigns, now)
    except DialerError as error:
        _record(sync, run, now, pass_state=(start, end, run.page), error=error.message)
        logger.warning("Reconciliação de ligações da empresa %s falhou: %s", tenant.slug, error)
        return run.new
    pass_state = None if run.finished else (start, end, run.page)
    _record(sync, run, now, pass_state=pass_state, error=run.warning, watermark=end)
    if run.new:
        logger.info("Reconciliação: %d ligação(ões) da empresa %s recuperada(s) do 3C Plus", run.new, tenant.slug)
    return run.new


def _window_start(sync, now) -> datetime.datetime:
    lookback = datetime.timedelta(seconds=settings.DIALER_RECONCILE_OVERLAP_SECONDS)
    first = now - datetime.timedelta(hours=settings.DIALER_RECONCILE_FIRST_HOURS)
    watermark = min(clamp_datetime(sync.watermark), now) if sync.watermark else first
    return max(watermark - lookback, now - MAX_LOOKBACK)


def _read_pages(tenant, api, run: Run, start, end, campaigns, now) -> None:
    """Read pages from run.page on, storing each report, until the last page (run.finished) or the cap."""
    window = [moment.astimezone(DIALER_TIME_ZONE).strftime(REPORT_FORMAT) for moment in (start, end)]
    previous_ids = None
    for _read in range(settings.DIALER_RECONCILE_MAX_PAGES):
        answer = api.calls_page(*window, campaigns=campaigns, page=run.page)
        ids = {_reconcile_report(tenant, api, run, report, now) for report in answer.reports} - {None}
        if previous_ids is not None and ids and ids <= previous_ids:
            # The same page again: 3C Plus is ignoring `page`, and following links.next would read it forever. The
            # pass ends here (nothing more can be read from it) and says so.
            run.warning = _(
                "O 3C Plus repetiu a página %(previous)d das ligações como página %(page)d: a leitura parou ali."
            ) % {"previous": run.page - 1, "page": run.page}
            run.finished = True
            return
        if not answer.has_next or not answer.reports:
            run.finished = True
            return
        previous_ids = ids
        run.page += 1


def _reconcile_report(tenant, api, run: Run, report, now):
    """Store one report (bounded first); a bad one is counted and kept for the admin, never stopping the run.
    Returns the report's call id (None for a bad one)."""
    try:
        bounded = bounded_report(report, api.excerpt)
        with transaction.atomic():  # a database error of this report (a value the column refuses) is its own
            run.new += _store(tenant, bounded, _call_date(bounded) or now)
    except REPORT_ERRORS as error:
        run.bad += 1
        reason = getattr(error, "message", "") or f"{type(error).__name__}: {error}"
        excerpt = getattr(error, "excerpt", "") or api.excerpt(report)
        run.last_bad = clean_text(
            f"{timezone.localtime(now):%d/%m/%Y %H:%M} — {reason} — {excerpt}", CallSync.LAST_BAD_REPORT_LENGTH
        )
        logger.warning("Reconciliação da empresa %s: relatório ignorado (%s)", tenant.slug, reason, exc_info=True)
        return None
    return bounded["id"]


def _record(sync, run: Run, now, *, pass_state, error: str = "", watermark=None) -> None:
    """Write the run down in one statement. A pass under way (pass_state) resumes next run; a finished one moves the
    watermark to its end."""
    start, end, page = pass_state or (None, None, None)
    changes = {
        "last_run_at": now,
        "last_error": error,
        "failing_since": Coalesce(F("failing_since"), Value(now)) if error else None,
        "recovered": F("recovered") + run.new,
        "bad_reports": F("bad_reports") + run.bad,
        "pass_start": start,
        "pass_end": end,
        "next_page": page,
    }
    if run.last_bad:
        changes["last_bad_report"] = run.last_bad
    if pass_state is None and watermark is not None:
        changes["watermark"] = watermark
    CallSync.objects.filter(pk=sync.pk).update(**changes)


def bounded_report(report, excerpt=None) -> dict:
    """A GET /calls report as the rest of the reconciliation may read it, or MalformedResponseError saying why not.

    Every value bounded: text without control characters (NUL included) and cut, NaN and Infinity dropped, integers
    beyond a bigint dropped, nesting, lists and text bounded. The call id must be there and be text or a number; the
    qualification an id, a name or an {id, name} object (the shapes 3C Plus and the relays in front of it send).
    """
    excerpt = excerpt or (lambda value: "")
    if not isinstance(report, dict):
        raise _bad_report(_("o relatório não é um objeto JSON"), report, excerpt)
    bounded = _bounded(report, 0)
    call_id = bounded.get("id")
    if isinstance(call_id, bool) or not isinstance(call_id, str | int) or not str(call_id).strip():
        raise _bad_report(_("sem o ID da ligação"), report, excerpt)
    if len(str(call_id)) > REPORT_MAX_ID:
        raise _bad_report(_("ID da ligação longo demais"), report, excerpt)
    bounded["id"] = str(call_id).strip()
    qualification = bounded.get("qualification")
    if not _qualification_shape(qualification):
        raise _bad_report(_("qualificação num formato desconhecido"), report, excerpt)
    return bounded


def _qualification_shape(value) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool) or isinstance(value, float):
        return False
    if isinstance(value, int):
        return value >= 0
    if isinstance(value, dict):
        remote_id, name = value.get("id"), value.get("name")
        return (remote_id in (None, "") or parse_id(remote_id) is not None) and (name is None or isinstance(name, str))
    return False


def _bad_report(reason: str, report, excerpt) -> MalformedResponseError:
    return MalformedResponseError(
        _("Relatório de ligação inválido: %(reason)s.") % {"reason": reason},
        detail=reason,
        excerpt=excerpt(_shallow(report)),
    )


def _shallow(value):
    """Enough of a value for an excerpt, without walking a body nested thousands deep."""
    return _bounded(value, REPORT_MAX_DEPTH - 2)


MISSING = object()


def _bounded(value, depth: int):
    if isinstance(value, dict):
        if depth >= REPORT_MAX_DEPTH:
            return MISSING
        items = ((clean_text(key, REPORT_MAX_ID), _bounded(item, depth + 1)) for key, item in value.items())
        return {key: item for key, item in itertools.islice(items, REPORT_MAX_ITEMS) if item is not MISSING}
    if isinstance(value, list | tuple):
        if depth >= REPORT_MAX_DEPTH:
            return MISSING
        items = (_bounded(item, depth + 1) for item in value[:REPORT_MAX_ITEMS])
        return [item for item in items if item is not MISSING]
    if isinstance(value, str):
        return clean_text(value, REPORT_MAX_TEXT)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -BIGINT < value < BIGINT else MISSING
    if isinstance(value, float):
        return value if math.isfinite(value) else MISSING
    return MISSING  # nothing JSON holds


def _call_date(report) -> datetime.datetime | None:
    """When the call happened, inside the window of sane dates. The RFC 3339 date first, else call_date; a date
    without an offset is the company's local time (São Paulo), so a naive one beside an aware one compares.

    Clamped on the wall clock before any conversion: a report dated year 1 or 9999 would overflow wherever it is
    converted to UTC or to local time (every page that shows the client's calls).
    """
    moment = _parse_moment(report.get("call_date_rfc3339"), datetime.datetime.fromisoformat)
    if moment is None:
        moment = _parse_moment(report.get("call_date"), lambda text: datetime.datetime.strptime(text, REPORT_FORMAT))
    if moment is None:
        return None
    zone = moment.tzinfo or DIALER_TIME_ZONE
    # Far from the edges once the wall clock is inside the window, the moment is clamped again in UTC.
    return clamp_datetime(clamp_datetime(moment.replace(tzinfo=None)).replace(tzinfo=zone))


def _parse_moment(value, parse) -> datetime.datetime | None:
    if not isinstance(value, str) or not value or len(value) > 40 or not value.isascii():
        return None
    try:
        moment = parse(value.strip())
        if moment.tzinfo is not None:
            moment.utcoffset()  # a zone that cannot say its offset is no date
    except (ValueError, TypeError, OverflowError):
        return None
    return moment


def _store(tenant, report: dict, at) -> int:
    try:
        parsed = webhooks.parse_report(report)
    except WebhookError:
        return 0
    event_kind = DialerCallEvent.Event.HISTORY
    if DialerCallEvent.objects.filter(tenant=tenant, event=event_kind, call_id=parsed.call_id).exists():
        return 0
    qualification = _known_qualification(tenant, parsed)
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
        _qualified_in_dialer(tenant, client, parsed, qualification, _note(report.get("qualification_note")), at)
    return 1


def _known_qualification(tenant, parsed):
    """The catalogue's qualification the event names (any of its shapes); the event keeps it as {id, name}."""
    qualification = qualifications.find_qualification(tenant, parsed.qualification)
    if qualification is not None:
        parsed.qualification = {"id": qualification.remote_id, "name": qualification.name}
    return qualification


def _note(value) -> str:
    return clean_text(value, 1000) if isinstance(value, str) else ""


def tabulate_delivered_history(event_id: int, parsed: webhooks.ParsedEvent) -> None:
    """A history the webhook stored, qualified inside 3C Plus, becomes the client's tabulação as the same call read
    back by the reconciliation would (which then finds the history stored and skips it). The event is stored
    whatever happens here: a failure is logged, never a 5xx that would make 3C Plus switch the webhook off."""
    if parsed.event != DialerCallEvent.Event.HISTORY or not parsed.qualification:
        return
    try:
        # The catalogue first, in one query: most histories name no qualification of it (or there is none yet), and
        # this runs for every history the webhook stores.
        qualification = qualifications.find_event_qualification(event_id, parsed.qualification)
        if qualification is None:
            return
        parsed.qualification = {"id": qualification.remote_id, "name": qualification.name}
        event = DialerCallEvent.objects.select_related("tenant", "client").filter(pk=event_id).first()
        if event is None:
            return
        if event.qualification != parsed.qualification:  # the catalogue's {id, name}, for the timeline
            DialerCallEvent.objects.filter(pk=event.pk).update(qualification=parsed.qualification)
        if event.client is not None:
            _qualified_in_dialer(event.tenant, event.client, parsed, qualification, "", event.received_at)
    except Exception:
        logger.exception("Tabulação da qualificação do histórico %s não registrada", event_id)


def _qualified_in_dialer(tenant, client: Client, parsed, qualification, note: str, at):
    """A call qualified inside 3C Plus, whether its history came by the webhook or by the reconciliation: the
    client's tabulação first (the callback of a mapped "Retornar" dates it rather than adding a second), then what
    the qualification does here (número errado, não ligar, retornar)."""
    call_key = _record_tabulation(tenant, client, parsed, qualification, note, at)
    qualifications.apply_dialer_qualification(
        tenant, client, qualification, phone=parsed.phone, call_id=call_key, at=at
    )


def _record_tabulation(tenant, client: Client, parsed, qualification, note: str, at) -> str:
    """A qualification made inside 3C Plus becomes the tabulação of the operator who made it: the agent of the
    call's connected event (found by any of the call's ids), else the agent the history names, else the client's
    operator. The tabulação is keyed by the connected event's id when known, as the operator's page keys it; that
    key is returned (the call's id for whatever else the qualification does here)."""
    ids = same_call_ids(tenant, parsed.call_id, telephony_id=parsed.telephony_id, sid=parsed.sid)
    call_key = ids[0] if ids else parsed.call_id
    mapping = QualificationMapping.objects.filter(tenant=tenant, qualification=qualification).first()
    if mapping is None:
        return call_key
    connected = DialerCallEvent.objects.filter(
        tenant=tenant, call_id__in=ids, event=DialerCallEvent.Event.CONNECTED
    ).first()
    operator = None
    for agent_id in (connected.agent_id if connected else "", parsed.agent_id):
        if agent_id and operator is None:
            membership = Membership.objects.filter(tenant=tenant, threecplus_agent_id=agent_id).first()
            operator = membership.user if membership else None
    operator = operator or client.assigned_operator
    hooks.call_qualified(tenant, client, mapping.behavior, call_id=call_key, operator=operator, note=note, at=at)
    return call_key


def reconcile_due_tenants() -> list[int]:
    """Periodic (every worker's heartbeat): queue the reconciliation of each configured tenant that is due.

    A tenant is claimed by a conditional update of its last run, so two workers never queue it twice.
    """
    from dialer.tasks import reconcile_tenant_calls

    now = timezone.now()
    queued = []
    for tenant in tenant_api.configured_tenants().only("pk"):
        if periodic.claim_due(CallSync, tenant, settings.DIALER_RECONCILE_EVERY_SECONDS, now):
            reconcile_tenant_calls.enqueue(tenant.pk)
            queued.append(tenant.pk)
    return queued
