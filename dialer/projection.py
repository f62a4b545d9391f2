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

No transaction is held across HTTP: the rows are read, the request is made, then the rows are updated. The sweep
works a range of clients at a time (one statement classifies the range and joins its items; on PostgreSQL another
marks the opening's items SENT and builds their contacts); the range's requests go to a small pool of threads while
the next range's statements run, and their outcomes are written by the sweep's thread afterwards: a statement never
waits on a request, and a request never waits on an open transaction.
"""

import dataclasses
import datetime
import json
import logging
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, Q, Value, When
from django.utils import timezone

from common import advisory_locks
from common.reversing import url_with_id
from core.models import Client, ClientPhone, Creditor
from dialer import eligibility, tenant_api
from dialer.client import dial_number
from dialer.errors import DialerError
from dialer.exports.any_of import client_in
from dialer.exports.sending import CONTACT_FIELDS, contact_data
from dialer.models import DialerExport, DialerExportItem
from dialer.removals import mailing_keys

logger = logging.getLogger(__name__)

PROJECTION_LOCK_NAMESPACE = 26
CHUNK = 50_000  # clients classified per statement (a range of ids)
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
    """One sweep of a tenant's accepted items (see the module's docstring), a range of its clients at a time."""
    now = now or timezone.now()
    lead = lead if lead is not None else datetime.timedelta(seconds=settings.DIALER_PROJECTION_LEAD_SECONDS)
    result = Sweep()
    started = timezone.now()
    with advisory_locks.try_lock(PROJECTION_LOCK_NAMESPACE, tenant.pk) as acquired:
        if not acquired:
            return result
        policy = eligibility.CallingPolicy.for_tenant(tenant)
        closing_q = _regions_q(closing_regions(policy, now, lead))
        with _LazyApi(api_factory or tenant_api.api_for, tenant) as api, _Requests(api, result) as requests:
            for low, high in _client_ranges(tenant):
                moves = _moves(tenant, now, closing_q, low, high)
                if moves:
                    _project_chunk(requests, tenant, moves, now)
                requests.settle(requests.PENDING)
                requests.flush()
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def _client_ranges(tenant, size: int = CHUNK):
    """[low, high) ranges of client ids holding about `size` of the tenant's clients each (None: unbounded); each
    boundary is one short walk of the (tenant, id) index."""
    ids = Client.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
    low = None
    while True:
        high = next(iter((ids if low is None else ids.filter(pk__gte=low))[size : size + 1]), None)
        yield low, high
        if high is None:
            return
        low = high


def _moves(tenant, now, closing_q, low, high) -> list[tuple]:
    """The live items of the range's clients that must move, with their client's reason, in one statement: the
    wallet classified by the rule (eligibility.classify) joined to the items. On the list (SENT) while something
    holds or stops its client (or the window closes before the next tick), or held while nothing holds it (or
    something now stops it); a tick where nobody moves returns nothing. Each row is (item id, client id, status,
    campaign, list, reason, closing soon, the (phone, identifier) pairs of a SENT item as JSON objects separated by
    commas: built by PostgreSQL, where decoding the phones of a million items cost seconds)."""
    wallet, among = Client.objects.filter(tenant=tenant), Q()
    if low is not None:
        wallet, among = wallet.filter(pk__gte=low), among & Q(client_id__gte=low)
    if high is not None:
        wallet, among = wallet.filter(pk__lt=high), among & Q(client_id__lt=high)
    classified = (
        eligibility.classify(wallet, tenant, None, now, among)
        .annotate(
            cid=F("pk"),
            closing=Case(When(closing_q, then=Value(True)), default=Value(False), output_field=BooleanField()),
        )
        .values("cid", "skip_reason", "closing")
    )
    classified_sql, params = classified.query.sql_with_params()
    postgresql = connection.vendor == "postgresql"
    sent, held = DialerExportItem.Status.SENT, DialerExportItem.Status.HELD
    if postgresql:
        keys = (
            "CASE WHEN item.status = %s AND jsonb_typeof(item.phones) = 'array' THEN "
            "(SELECT string_agg(json_build_object('phone', p.value, 'identifier', item.client_id::text)::text, ',' "
            "ORDER BY p.n) FROM jsonb_array_elements_text(item.phones) WITH ORDINALITY AS p(value, n)) END"
        )
        key_params = [sent]
    else:
        keys, key_params = "item.phones", []
    hold_reasons = sorted(eligibility.HOLD_REASONS)
    outside = f"{eligibility.OUTSIDE_HOURS}@"
    bounds, bound_params = "", []
    if low is not None:
        bounds, bound_params = bounds + " AND item.client_id >= %s", [*bound_params, low]
    if high is not None:
        bounds, bound_params = bounds + " AND item.client_id < %s", [*bound_params, high]
    sql = (
        f"SELECT item.id, item.client_id, item.status, item.campaign_id, export.list_id, c.skip_reason, c.closing, "
        f"{keys} "
        f"FROM ({classified_sql}) AS c "
        f"JOIN {DialerExportItem._meta.db_table} AS item ON item.client_id = c.cid "
        f"JOIN {DialerExport._meta.db_table} AS export ON export.id = item.export_id "
        f"WHERE item.tenant_id = %s{bounds} AND export.list_id IS NOT NULL AND ("
        f"(item.status = %s AND (c.skip_reason <> %s OR c.closing)) OR (item.status = %s "
        f"AND NOT (c.skip_reason IN ({', '.join(['%s'] * len(hold_reasons))}) "
        f"OR substr(c.skip_reason, 1, {len(outside)}) = %s) AND NOT (c.skip_reason = %s AND c.closing))"
        f") ORDER BY item.client_id, item.id"
    )
    params = [
        *key_params,
        *params,
        tenant.pk,
        *bound_params,
        sent,
        eligibility.SEND,
        held,
        *hold_reasons,
        outside,
        eligibility.SEND,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        if postgresql:
            # The rule's CASE is repeated in the filter: PostgreSQL's JIT spent 9 of the 10 s of a sweep over 100,000
            # clients compiling it (EXPLAIN ANALYZE), for a query that runs in well under a second without it.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not postgresql:
        rows = [(*row[:7], _keys_json(row[1], json.loads(row[7] or "[]")) if row[2] == sent else None) for row in rows]
    return rows


def _keys_json(client_id, phones) -> str:
    """The (phone, identifier) pairs of mailing/delete for a client's phones, as JSON objects separated by commas."""
    if not isinstance(phones, list):
        return ""
    pairs = mailing_keys([(client_id, phones)])
    return ",".join(json.dumps(pair, ensure_ascii=False, separators=(",", ":")) for pair in pairs)


def _project_chunk(requests: "_Requests", tenant, moves, now):
    to_remove: dict[int, list] = defaultdict(list)  # campaign -> [(item pk, keys, next reason or None)]
    to_add: dict[tuple[int, int], list] = defaultdict(list)  # (campaign, list) -> [(item pk, client id)]
    drop_held: dict[str, list[int]] = defaultdict(list)
    held_reason: dict[str, bool] = {}
    for pk, client_id, status, campaign_id, list_id, reason, closing, keys in moves:
        if reason not in held_reason:
            held_reason[reason] = eligibility.is_held(reason)
        stopped = reason != eligibility.SEND and not held_reason[reason]
        hold = held_reason[reason] or bool(closing)
        if status == DialerExportItem.Status.SENT and (stopped or hold):
            to_remove[campaign_id].append((pk, keys, reason if stopped else None))
        elif status == DialerExportItem.Status.HELD and stopped:
            drop_held[reason].append(pk)
        elif status == DialerExportItem.Status.HELD and not hold:
            to_add[(campaign_id, list_id)].append((pk, client_id))
    for reason, pks in drop_held.items():
        DialerExportItem.objects.filter(client_in(pks, "pk")).update(
            status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
        )
        requests.result.dropped += len(pks)
    for campaign_id, rows in to_remove.items():
        _remove(requests, campaign_id, rows)
    for (campaign_id, list_id), rows in to_add.items():
        _add(requests, campaign_id, list_id, rows, now)


class _Requests:
    """The sweep's requests to 3C Plus: up to IN_FLIGHT at once over the API's kept-alive connections, on a pool kept
    for the whole sweep, so that the next range's statements run while this range's requests are in flight (the
    database and 3C Plus work at the same time). Their outcomes are written by the sweep's thread only (flush), one
    statement per outcome; no transaction is open while a request is."""

    PENDING = IN_FLIGHT * 16  # requests queued at most before the sweep waits (each up to ~1 MB of contacts)

    def __init__(self, api, result: Sweep):
        self.api, self.result = api, result
        self.pool: ThreadPoolExecutor | None = None
        self.pending: dict = {}  # future -> its outcome's handler
        self.held: list[int] = []  # removed from the list: SENT -> HELD
        self.skipped: dict[str, list[int]] = defaultdict(list)  # removed for good: reason -> items
        self.not_added: list[int] = []  # marked SENT, their POST failed: back to HELD

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # Every queued request still goes out, even when the sweep failed: the opening's items are already marked
        # SENT, and a request dropped here would leave them off the list until the next closing.
        try:
            self.settle(0)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
        if exc[0] is None:
            self.flush()  # after a failure the next tick repeats the deletes, which are idempotent

    def submit(self, function, done) -> None:
        if self.pool is None:
            getattr(self.api, "delete_mailing")  # noqa: B009 — the lazy client opens here, in this thread
            self.pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="projecao")
        self.pending[self.pool.submit(function)] = done
        if len(self.pending) > self.PENDING:
            self.settle(self.PENDING // 2)

    def settle(self, keep: int) -> None:
        """Handle the finished requests, waiting until at most `keep` are pending."""
        while self.pending:
            finished, _ = wait(
                self.pending, timeout=None if len(self.pending) > keep else 0, return_when=FIRST_COMPLETED
            )
            if not finished:
                return
            for future in finished:
                done = self.pending.pop(future)
                try:
                    future.result()
                except DialerError as error:
                    done(error)
                else:
                    done(None)

    def flush(self) -> None:
        """Writes the outcomes so far: after a crash before it, the next tick repeats the idempotent deletes."""
        sent, held = DialerExportItem.Status.SENT, DialerExportItem.Status.HELD
        if self.held:
            DialerExportItem.objects.filter(client_in(self.held, "pk"), status=sent).update(status=held)
        for reason, pks in self.skipped.items():
            DialerExportItem.objects.filter(client_in(pks, "pk")).update(
                status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
            )
        if self.not_added:
            DialerExportItem.objects.filter(client_in(self.not_added, "pk"), status=sent).update(status=held)
        self.held, self.skipped, self.not_added = [], defaultdict(list), []


def _json_array(parts) -> bytes:
    return f"[{','.join(part for part in parts if part)}]".encode()


def _remove(requests: _Requests, campaign_id, rows):
    api, result = requests.api, requests.result
    for start in range(0, len(rows), BATCH):
        part = rows[start : start + BATCH]
        body = _json_array(keys for _pk, keys, _r in part)

        def delete(body=body):
            if body != b"[]":
                api.delete_mailing(campaign_id, body)

        def done(error, part=part):
            if error is not None:
                # Still SENT: the next tick removes them again (the delete is idempotent).
                logger.warning("Projeção: remoção na campanha %s falhou: %s", campaign_id, error.message)
                result.failed += len(part)
                return
            for pk, _keys, stop in part:
                if stop is None:
                    requests.held.append(pk)
                else:
                    requests.skipped[stop].append(pk)
            result.removed += len(part)

        requests.submit(delete, done)


def _add(requests: _Requests, campaign_id, list_id, rows, now):
    api, result = requests.api, requests.result
    # Written first: a crash after the POST then leaves them SENT, and the next closing takes them out, where a
    # HELD one on the list would stay there past the window.
    marked = _mark_sent(rows, now)
    for start in range(0, len(marked), BATCH):
        part = marked[start : start + BATCH]
        contacts = _json_array(contacts for _pk, _c, contacts, _k in part)
        keys = _json_array(keys for _pk, _c, _contacts, keys in part)
        pks = [pk for pk, *_rest in part]

        def post(contacts=contacts, keys=keys):
            api.delete_mailing(campaign_id, keys)  # never twice on the list, whatever a lost answer did before
            api.add_mailing(campaign_id, list_id, contacts)

        def done(error, pks=pks):
            if error is not None:
                logger.warning("Projeção: inclusão na lista %s falhou: %s", list_id, error.message)
                requests.not_added.extend(pks)
                result.failed += len(pks)
                return
            result.added += len(pks)

        requests.submit(post, done)


def _mark_sent(rows, now) -> list[tuple[int, int, str, str]]:
    """Marks these HELD items SENT with their client's active phones, and returns what to post for each one marked:
    (item id, client id, its mailing.json contacts, its mailing/delete pairs), both as JSON objects separated by
    commas. An item no longer HELD (taken out meanwhile) or whose client has no active phone is left alone."""
    if connection.vendor == "postgresql":
        return _mark_sent_sql(rows, now)
    return _mark_sent_orm(rows, now)


def _dial_number_sql(column: str) -> str:
    """dialer.client.dial_number in SQL."""
    digits = f"ltrim({column}, '+')"
    return f"CASE WHEN left({digits}, 2) = '55' THEN substr({digits}, 3) ELSE {digits} END"


def _zone_sql() -> tuple[str, list]:
    """The debtor's time zone name (contact_data's `fuso`) in SQL, as eligibility.client_region decides it."""
    whens = " ".join("WHEN %s THEN %s" for _uf in eligibility.UF_TIME_ZONES)
    sql = (
        "CASE WHEN upper(client.state) = 'PE' AND (left(client.postal_code, 5) = '53990' "
        "OR lower(btrim(client.city, E' \\t\\n\\r\\f\\v')) = 'fernando de noronha') THEN %s "
        f"ELSE CASE upper(client.state) {whens} ELSE %s END END"
    )
    params = [
        eligibility.NORONHA_TIME_ZONE,
        *(value for uf, zone in eligibility.UF_TIME_ZONES.items() for value in (uf, zone)),
        eligibility.region_time_zone(eligibility.UNKNOWN_UF).key,
    ]
    return sql, params


def _mark_sent_sql(rows, now) -> list[tuple[int, int, str, str]]:
    """One statement: the items marked SENT with the phones their contacts carry, and the contacts built by PostgreSQL
    (contact_data's fields, in its order; tests/dialer/test_projection_payloads.py checks both builders agree).

    Set based, and costed with EXPLAIN ANALYZE: a client's data is built once and spliced between its phones' heads
    (array_to_string); the phones are aggregated from one sorted subquery (an ORDER BY inside each aggregate sorted
    every client's phones three times, PostgreSQL 15); the phones are read by the range of client ids, joined to the
    list (with the list alone, PostgreSQL read every phone of every tenant for each chunk)."""
    head, tail = url_with_id("attendance:client", base=settings.PUBLIC_BASE_URL)(_URL_PROBE).split(str(_URL_PROBE))
    zone, zone_params = _zone_sql()
    pair = """'{"phone":' || to_json(phone.dial)::text || ',"identifier":"' || phone.client_id::text || '"'"""
    sql = (
        "WITH numbers AS ("
        " SELECT phone.client_id, jsonb_agg(phone.dial) AS phones,"
        f""" array_agg({pair} || ',"data":') AS heads, string_agg({pair} || '}}', ',') AS pairs"""
        f" FROM (SELECT phone.client_id, {_dial_number_sql('phone.number')} AS dial"
        f" FROM {ClientPhone._meta.db_table} AS phone"
        " JOIN unnest(%s::bigint[]) AS wanted(id) ON wanted.id = phone.client_id"
        " WHERE phone.client_id BETWEEN %s AND %s AND phone.active"
        " ORDER BY phone.client_id, phone.priority, phone.id) AS phone"  # each client's phones in dialling order
        " GROUP BY phone.client_id"
        "), moved AS ("
        f" UPDATE {DialerExportItem._meta.db_table} AS item SET status = %s, sent_at = %s, phones = numbers.phones"
        " FROM numbers WHERE item.id = ANY(%s::bigint[]) AND item.client_id = numbers.client_id"
        " RETURNING item.id, item.client_id"
        ") SELECT moved.id, moved.client_id, array_to_string(numbers.heads, data.value || '},') || data.value || '}',"
        " numbers.pairs FROM moved JOIN numbers ON numbers.client_id = moved.client_id"
        " JOIN LATERAL (SELECT json_build_object("
        "'nome', client.name, 'cpf', client.cpf, 'valor_em_aberto', client.open_balance::numeric(20, 2)::text, "
        "'credor', creditor.name, 'external_id', client.external_id, "
        "'url_atendimento', %s || client.id::text || %s, 'uf', client.state, "
        f"'fuso', {zone})::text AS value"
        f" FROM {Client._meta.db_table} AS client JOIN {Creditor._meta.db_table} AS creditor"
        " ON creditor.id = client.creditor_id WHERE client.id = moved.client_id) AS data ON true"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # costed as big, compiled for longer than it runs
        # The items still HELD, locked until the statement below commits (no request is made meanwhile). Apart, so
        # that no join depends on the status's statistics: right after a closing they still say "all SENT", and
        # the update joined to its phones as if no item were HELD ran for minutes (a nested loop over the phones).
        cursor.execute(
            f"SELECT id, client_id FROM {DialerExportItem._meta.db_table} WHERE id = ANY(%s::bigint[]) AND status = %s "
            "FOR UPDATE",
            ["{" + ",".join(str(pk) for pk, _client_id in rows) + "}", DialerExportItem.Status.HELD],
        )
        held = cursor.fetchall()
        if not held:
            return []
        client_ids = [client_id for _pk, client_id in held]
        params = [
            "{" + ",".join(map(str, client_ids)) + "}",
            min(client_ids),
            max(client_ids),
            DialerExportItem.Status.SENT,
            now,
            "{" + ",".join(str(pk) for pk, _client_id in held) + "}",
            head,
            tail,
            *zone_params,
        ]
        cursor.execute(sql, params)
        return sorted(cursor.fetchall(), key=lambda row: (row[1], row[0]))


_URL_PROBE = 876543210876


def _mark_sent_orm(rows, now) -> list[tuple[int, int, str, str]]:
    """_mark_sent_sql's result through the ORM (SQLite): the contacts built by contact_data."""
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
    table = DialerExportItem._meta.db_table
    with transaction.atomic():
        held = set(
            DialerExportItem.objects.filter(
                client_in([pk for pk, _c in rows], "pk"), status=DialerExportItem.Status.HELD
            ).values_list("pk", flat=True)
        )
        marked = sorted((client_id, pk) for pk, client_id in rows if pk in held and phones.get(client_id))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET status = %s, sent_at = %s, phones = %s WHERE id = %s",
                [(DialerExportItem.Status.SENT, now, json.dumps(phones[c]), pk) for c, pk in marked],
            )
    result = []
    for client_id, pk in marked:
        contacts = ",".join(
            f'{{"phone":{json.dumps(number, ensure_ascii=False)},"identifier":"{client_id}","data":{data[client_id]}}}'
            for number in phones[client_id]
        )
        result.append((pk, client_id, contacts, _keys_json(client_id, phones[client_id])))
    return result


REGION_NAMES = {eligibility.NORONHA: "Fernando de Noronha", eligibility.UNKNOWN_UF: "UF desconhecida"}


def first_opening(queryset, tenant, now, opens, regions=None) -> tuple[datetime.datetime, list[str]] | None:
    """When the first held window opens, in the debtor's local time, and the regions of the selection it opens
    for: (local time, ["AC"]). `regions`: those the selection holds, when the caller knows (the preview groups by
    region); otherwise a small query per region, only when some of the selection waits for its window."""
    if not opens:
        return None
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    at = opens[0][0]
    present_regions = regions
    opening = [
        region
        for region in [*eligibility.UF_TIME_ZONES, eligibility.NORONHA, eligibility.UNKNOWN_UF]
        if (next_opening := policy.next_opening(region, now)) is not None and next_opening == at
    ]
    if present_regions is None:
        present = [r for r in opening if queryset.filter(eligibility._region_q(r)).exists()]
    else:
        present = [r for r in opening if r in present_regions]
    present = present[:3] or opening[:3]
    if not present:
        return None
    return at.astimezone(eligibility.region_time_zone(present[0])), present


def window_text(preview: dict, queryset, tenant, now=None, *, regions=None) -> str:
    """ "agora: 12; quando a janela abrir: 30 (primeiro às 08:00 em AC)" for the preview."""
    from django.utils.translation import gettext as _

    now = now or timezone.now()
    waiting = preview["held"].get(eligibility.OUTSIDE_HOURS, 0)
    text = _("agora: %(now)s; quando a janela abrir: %(later)s") % {"now": preview["to_send"], "later": waiting}
    first = first_opening(queryset, tenant, now, preview["opens"], regions) if waiting else None
    if first is not None:
        at, regions = first
        names = ", ".join(REGION_NAMES.get(r, r) for r in regions)
        text += " " + _("(primeiro às %(at)s em %(regions)s)") % {"at": at.strftime("%H:%M"), "regions": names}
    return text
