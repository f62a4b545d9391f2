"""The dial list as a live projection of the wallet and the clock: load any time, dial only inside the window.

"Enviar" accepts a client whose window is closed, who reached an attempt cap, whose callback is later or whom the
re-work rule holds: its item is "aguardando" (HELD), not on the 3C Plus list. A periodic sweep (every worker
tick, each tenant at most every DIALER_PROJECTION_TICK_SECONDS) compares each accepted item with the rule at this
instant and moves the difference:

- on the list (SENT) and held now, or its window closes before the next tick (DIALER_PROJECTION_LEAD_SECONDS):
  `DELETE /campaigns/{id}/mailing/delete` with its (phone, identifier) pairs, then HELD;
- HELD and nothing holds it (window open until the next tick): `DELETE …/mailing/delete` of its pairs first (a
  lost answer or a crash never leaves it on the list twice), then `POST …/lists/{list}/mailing.json`, SENT;
- anything that must not be called any more (paid off, agreement, "não ligar", no phone left): out and ignored.

Why this mechanism [SW swagger.json, API_NOTES §3]: the campaign's `start_time`/`end_time` is one daily schedule
for every debtor of the campaign, while the window is per UF (Noronha, AC and AM an hour or two off Brasília, RJ
and ES closing earlier, Saturdays and state holidays differ), and no list-level activity or schedule exists in the
swagger (a list has only `weight`). Deleting and re-adding contacts is what the API offers per contact, it is how
the live removal already works (dialer/removals.py), and it serves the caps, callbacks and re-work rule the same
way. Because the sweep reads the state from our database and the clock each time, a tick that never ran is repaired
by the next one: it removes whatever was left on a closed window and adds whatever was left out of an open one.

No transaction is held across HTTP: the rows are read, the request is made, then the rows are updated.
"""

import dataclasses
import datetime
import json
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone

from common import advisory_locks
from common.reversing import url_with_id
from core.models import Client, ClientPhone
from dialer import eligibility, tenant_api
from dialer.client import MailingBatch, dial_number
from dialer.errors import DialerError
from dialer.exports.any_of import client_in
from dialer.exports.sending import CONTACT_FIELDS, contact_data
from dialer.models import DialerExportItem
from dialer.removals import mailing_keys

logger = logging.getLogger(__name__)

PROJECTION_LOCK_NAMESPACE = 26
CHUNK = 5000  # clients classified per query
BATCH = 1000  # contacts per mailing.json / mailing/delete request
IN_FLIGHT = 4  # requests to 3C Plus at once (as the export's uploads)
LIVE = (DialerExportItem.Status.SENT, DialerExportItem.Status.HELD)

_last_run: dict[int, datetime.datetime] = {}  # tenant id -> last sweep by this process


class _LazyApi:
    """The tenant's API client, opened on the first request: most ticks move nobody and make no request."""

    def __init__(self, factory, tenant):
        self.factory, self.tenant, self.api, self.context = factory, tenant, None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.context is not None:
            self.context.__exit__(*exc)

    def __getattr__(self, name):
        if self.api is None:
            self.context = self.factory(self.tenant)
            self.api = self.context.__enter__()
        return getattr(self.api, name)


@dataclasses.dataclass
class Sweep:
    added: int = 0
    removed: int = 0
    dropped: int = 0
    failed: int = 0
    seconds: float = 0.0


def closing_regions(policy, now, lead: datetime.timedelta) -> list[str]:
    """Regions open now whose window is closed at some point before now + lead (checked at its ends and at every
    shift end in between): a contact left on the list would be dialled after the close."""
    closing = []
    regions = [*eligibility.UF_TIME_ZONES, eligibility.NORONHA, eligibility.UNKNOWN_UF]
    for region in regions:
        if policy.next_opening(region, now) is not None:
            continue  # closed now: the rule says so already
        zone = eligibility.region_time_zone(region)
        local = now.astimezone(zone)
        later = (now + lead).astimezone(zone)
        if policy.next_opening(region, now + lead) is not None:
            closing.append(region)
            continue
        for day in {local.date(), later.date()}:
            for _start, end in policy.window(region, day):
                end_at = datetime.datetime.combine(day, end, tzinfo=zone)
                if local < end_at < later and policy.next_opening(region, end_at) is not None:
                    closing.append(region)
                    break
            if closing and closing[-1] == region:
                break
    return closing


def _regions_q(regions) -> Q:
    q = Q(pk__in=[])
    for region in regions:
        q |= eligibility._region_q(region)
    return q


def sweep_projection() -> list[int]:
    """Periodic (every worker's heartbeat): project each configured tenant whose tick is due."""
    now = timezone.now()
    tick = datetime.timedelta(seconds=settings.DIALER_PROJECTION_TICK_SECONDS)
    done = []
    for tenant in tenant_api.configured_tenants():
        last = _last_run.get(tenant.pk)
        if last is not None and now - last < tick and last <= now:
            continue
        _last_run[tenant.pk] = now
        try:
            project_tenant(tenant, now)
        except DialerError as error:
            logger.warning("Projeção da empresa %s: %s", tenant.pk, error.message)
        done.append(tenant.pk)
    return done


def project_tenant(tenant, now=None, *, api_factory=None, lead: datetime.timedelta | None = None) -> Sweep:
    """One sweep of a tenant's accepted items (see the module's docstring)."""
    now = now or timezone.now()
    lead = lead if lead is not None else datetime.timedelta(seconds=settings.DIALER_PROJECTION_LEAD_SECONDS)
    result = Sweep()
    started = timezone.now()
    with advisory_locks.try_lock(PROJECTION_LOCK_NAMESPACE, tenant.pk) as acquired:
        if not acquired:
            return result
        policy = eligibility.CallingPolicy.for_tenant(tenant)
        closing_q = _regions_q(closing_regions(policy, now, lead))
        changed = _changed_clients(tenant, now, closing_q)
        live = DialerExportItem.objects.filter(tenant=tenant, status__in=LIVE, export__list_id__isnull=False)
        with _LazyApi(api_factory or tenant_api.api_for, tenant) as api:
            for start in range(0, len(changed), CHUNK):
                part = changed[start : start + CHUNK]
                reasons = {client_id: reason for client_id, reason, _closing in part}
                closing = {client_id for client_id, _reason, is_closing in part if is_closing}
                items = live.filter(client_in(reasons))
                _project_chunk(api, tenant, items, reasons, closing, now, result)
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def _changed_clients(tenant, now, closing_q) -> list[tuple[int, str, bool]]:
    """(client id, reason, closing soon) of the clients whose items must move, in one query over the wallet: on the
    list while something holds them or must stop them (or their window closes before the next tick), or held while
    nothing holds them (or something now stops them). A tick where nobody moves returns nothing."""
    items = DialerExportItem.objects.filter(client_id=OuterRef("pk"), export__list_id__isnull=False)
    on_list = Exists(items.filter(status=DialerExportItem.Status.SENT))
    held = Exists(items.filter(status=DialerExportItem.Status.HELD))
    held_reason = Q(skip_reason__in=sorted(eligibility.HOLD_REASONS)) | Q(
        skip_reason__startswith=f"{eligibility.OUTSIDE_HOURS}@"
    )
    send = Q(skip_reason=eligibility.SEND)
    classified = eligibility.classify(Client.objects.filter(tenant=tenant), tenant, None, now).annotate(
        closing=Case(When(closing_q, then=Value(True)), default=Value(False), output_field=BooleanField())
    )
    changed = (
        classified.filter((on_list & (~send | Q(closing=True))) | (held & ~held_reason & ~(send & Q(closing=True))))
        .order_by("pk")
        .values_list("pk", "skip_reason", "closing")
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The rule's CASE is repeated in the filter: PostgreSQL's JIT spent 9 of the 10 s of a sweep over 100,000
            # clients compiling it (EXPLAIN ANALYZE), for a query that runs in well under a second without it.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        return list(changed)


def _project_chunk(api, tenant, items, reasons, closing, now, result: Sweep):
    to_remove: dict[int, list] = defaultdict(list)  # campaign -> [(item pk, client id, phones, next status)]
    to_add: dict[tuple[int, int], list] = defaultdict(list)  # (campaign, list) -> [(item pk, client id)]
    drop_held: dict[str, list[int]] = defaultdict(list)
    for pk, client_id, status, campaign_id, list_id, phones in items.values_list(
        "pk", "client_id", "status", "campaign_id", "export__list_id", "phones"
    ):
        reason = reasons.get(client_id, "sem_telefone")
        stopped = reason != eligibility.SEND and not eligibility.is_held(reason)
        hold = eligibility.is_held(reason) or client_id in closing
        if status == DialerExportItem.Status.SENT and (stopped or hold):
            to_remove[campaign_id].append((pk, client_id, phones, reason if stopped else None))
        elif status == DialerExportItem.Status.HELD and stopped:
            drop_held[reason].append(pk)
        elif status == DialerExportItem.Status.HELD and not hold:
            to_add[(campaign_id, list_id)].append((pk, client_id))
    for reason, pks in drop_held.items():
        DialerExportItem.objects.filter(pk__in=pks).update(
            status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
        )
        result.dropped += len(pks)
    for campaign_id, rows in to_remove.items():
        _remove(api, campaign_id, rows, result)
    for (campaign_id, list_id), rows in to_add.items():
        _add(tenant, api, campaign_id, list_id, rows, now, result)


def _in_flight(api, calls):
    """Run each (key, function) with up to IN_FLIGHT requests at once over the API's kept-alive connections; yield
    (key, error or None) in the order they finish. The database is touched only by the caller, in its thread."""
    calls = list(calls)
    if not calls:
        return
    getattr(api, "delete_mailing")  # noqa: B009 — the lazy client opens here, in this thread, not in the pool's
    with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="projecao") as pool:
        futures = {pool.submit(function): key for key, function in calls}
        for future in as_completed(futures):
            try:
                future.result()
            except DialerError as error:
                yield futures[future], error
            else:
                yield futures[future], None


def _remove(api, campaign_id, rows, result: Sweep):
    parts = [rows[start : start + BATCH] for start in range(0, len(rows), BATCH)]

    def delete(part):
        pairs = mailing_keys([(client_id, phones) for _pk, client_id, phones, _r in part if phones])
        return lambda: api.delete_mailing(campaign_id, pairs) if pairs else None

    for index, error in _in_flight(api, ((index, delete(part)) for index, part in enumerate(parts))):
        part = parts[index]
        if error is not None:
            # Still SENT: the next tick removes them again (the delete is idempotent).
            logger.warning("Projeção: remoção na campanha %s falhou: %s", campaign_id, error.message)
            result.failed += len(part)
            continue
        held = [pk for pk, _c, _p, stop in part if stop is None]
        DialerExportItem.objects.filter(pk__in=held, status=DialerExportItem.Status.SENT).update(
            status=DialerExportItem.Status.HELD
        )
        by_reason = defaultdict(list)
        for pk, _c, _p, stop in part:
            if stop is not None:
                by_reason[stop].append(pk)
        for reason, pks in by_reason.items():
            DialerExportItem.objects.filter(pk__in=pks).update(
                status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
            )
        result.removed += len(part)


def _mark_sent(item_phones: dict[int, list[str]], now) -> None:
    """One statement: these items are on the list now, with the phones posted (a CASE per row costs seconds)."""
    table = DialerExportItem._meta.db_table
    sent = DialerExportItem.Status.SENT
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS item SET status = %s, sent_at = %s, phones = data.phones "
                f"FROM jsonb_to_recordset(%s::jsonb) AS data(id bigint, phones jsonb) WHERE item.id = data.id",
                [sent, now, json.dumps([{"id": pk, "phones": p} for pk, p in item_phones.items()])],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET status = %s, sent_at = %s, phones = %s WHERE id = %s",
                [(sent, now, json.dumps(p), pk) for pk, p in item_phones.items()],
            )


def _add(tenant, api, campaign_id, list_id, rows, now, result: Sweep):
    client_url = url_with_id("attendance:client", base=settings.PUBLIC_BASE_URL)
    client_ids = [client_id for _pk, client_id in rows]
    data = {
        row[0]: json.dumps(contact_data(*row, client_url), ensure_ascii=False, separators=(",", ":"))
        for row in Client.objects.filter(client_in(client_ids, "pk")).values_list(*CONTACT_FIELDS)
    }
    phones: dict[int, list[str]] = defaultdict(list)
    for client_id, number in (
        ClientPhone.objects.filter(client_in(client_ids), active=True)
        .order_by("client_id", "priority", "id")
        .values_list("client_id", "number")
    ):
        phones[client_id].append(dial_number(number))
    ready = []
    for start in range(0, len(rows), BATCH):
        part = [(pk, client_id) for pk, client_id in rows[start : start + BATCH] if phones.get(client_id)]
        if not part:
            continue
        batch = MailingBatch()
        for _pk, client_id in part:
            for number in phones[client_id]:
                batch.add(number, str(client_id), data[client_id])
        pairs = mailing_keys([(client_id, phones[client_id]) for _pk, client_id in part])
        ready.append((part, batch, pairs))
    # Written first: a crash after the POST then leaves them SENT, and the next closing takes them out, where a
    # HELD one on the list would stay there past the window.
    _mark_sent({pk: phones[client_id] for part, _b, _p in ready for pk, client_id in part}, now)

    def post(batch, pairs):
        def run():
            api.delete_mailing(campaign_id, pairs)  # never twice on the list, whatever a lost answer did before
            api.add_mailing(campaign_id, list_id, batch)

        return run

    for index, error in _in_flight(api, ((i, post(batch, pairs)) for i, (_part, batch, pairs) in enumerate(ready))):
        part = ready[index][0]
        if error is not None:
            logger.warning("Projeção: inclusão na lista %s falhou: %s", list_id, error.message)
            DialerExportItem.objects.filter(pk__in=[pk for pk, _c in part]).update(status=DialerExportItem.Status.HELD)
            result.failed += len(part)
            continue
        result.added += len(part)


REGION_NAMES = {eligibility.NORONHA: "Fernando de Noronha", eligibility.UNKNOWN_UF: "UF desconhecida"}


def first_opening(queryset, tenant, now, opens) -> tuple[datetime.datetime, list[str]] | None:
    """When the first held window opens, in the debtor's local time, and the regions of the selection it opens
    for: (local time, ["AC"]). One small query, only when some of the selection waits for its window."""
    if not opens:
        return None
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    at = opens[0][0]
    regions = [
        region
        for region in [*eligibility.UF_TIME_ZONES, eligibility.NORONHA, eligibility.UNKNOWN_UF]
        if (opening := policy.next_opening(region, now)) is not None and opening == at
    ]
    present = [r for r in regions if queryset.filter(eligibility._region_q(r)).exists()][:3] or regions[:3]
    if not present:
        return None
    return at.astimezone(eligibility.region_time_zone(present[0])), present


def window_text(preview: dict, queryset, tenant, now=None) -> str:
    """ "agora: 12; quando a janela abrir: 30 (primeiro às 08:00 em AC)" for the preview."""
    from django.utils.translation import gettext as _

    now = now or timezone.now()
    waiting = preview["held"].get(eligibility.OUTSIDE_HOURS, 0)
    text = _("agora: %(now)s; quando a janela abrir: %(later)s") % {"now": preview["to_send"], "later": waiting}
    first = first_opening(queryset, tenant, now, preview["opens"]) if waiting else None
    if first is not None:
        at, regions = first
        names = ", ".join(REGION_NAMES.get(r, r) for r in regions)
        text += " " + _("(primeiro às %(at)s em %(regions)s)") % {"at": at.strftime("%H:%M"), "regions": names}
    return text
