"""The freeze: the selected clients that may be dialled become the export's items, with the preview's counts.

A chunk is frozen by one of two implementations of the same statement: on PostgreSQL one `WITH ... INSERT` that
classifies the chunk once, elsewhere (SQLite, the README's default) an ORM aggregate and an `INSERT ... SELECT`
that run the rule twice at the same instant. tests/dialer/test_export_freeze.py proves both give the same items
and counts on the same data.
"""

from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from dialer import eligibility
from dialer.models import DialerExport, DialerExportItem

# Selected clients frozen per transaction: small enough for steady progress and a short redo after a crash, large
# enough that the per-statement work (the rule's subqueries) is paid rarely.
FREEZE_CHUNK = 20_000


def chunk_bounds(queryset, after: int) -> tuple[list[int], int]:
    """The selection's clients after `after`, cut in chunks: the last id of each chunk (the last one is the
    selection's last id) and how many clients there are. One statement that reads the selection's ids only (what
    its filters select, through their indexes), never the rest of the tenant: a small selection in a big tenant is
    cut in few chunks, read once."""
    selected = queryset.filter(pk__gt=after).order_by().annotate(selected_id=F("pk")).values("selected_id")
    sql, params = selected.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT selected_id, total FROM (SELECT selected_id, ROW_NUMBER() OVER (ORDER BY selected_id) AS n, "
            "COUNT(*) OVER () AS total "
            f"FROM ({sql}) AS selection) AS numbered WHERE n %% %s = 0 OR n = total ORDER BY selected_id",
            [*params, FREEZE_CHUNK],
        )
        rows = cursor.fetchall()
    return [pk for pk, _total in rows], (rows[0][1] if rows else 0)


def freeze(export, queryset) -> DialerExport:
    """Items for the selected clients that may be dialled at the export's creation instant, with the preview's
    counts. The walk goes through the selection in id order, a chunk per transaction whose items and counts commit
    with the watermark: a worker that dies resumes after the last chunk, freezing and counting nothing twice. Its
    cost follows the selection, not the tenant: the chunks are cut on the selection's own ids.
    """
    last = export.frozen_up_to or 0
    bounds, remaining = chunk_bounds(queryset, last)
    totals = {
        "selected_count": export.selected_count,
        "to_send_count": export.to_send_count,
        "phones_count": export.phones_count,
        "open_balance": export.open_balance,
        "skipped": dict(export.skipped or {}),
        "prepare_done": export.prepare_done,
        "prepare_total": export.prepare_total or remaining,
    }
    for upper in bounds:
        among = Q(client_id__gt=last, client_id__lte=upper)
        chunk = queryset.filter(pk__gt=last, pk__lte=upper)
        with transaction.atomic():
            counts = freeze_chunk(export, chunk, among)
            totals["selected_count"] += counts["selected"]
            # Held clients (window closed, a cap, a callback, the re-work rule) are accepted: the projection
            # (dialer/projection.py) puts them on the list when nothing holds them.
            totals["to_send_count"] += counts["to_send"] + counts["held_total"]
            totals["phones_count"] += counts["phones"] + counts["held_phones"]
            totals["open_balance"] += counts["balance"] + counts["held_balance"]
            for reason, n in counts["skipped"].items():
                if reason in counts["held"]:
                    continue
                totals["skipped"][reason] = totals["skipped"].get(reason, 0) + n
            done = upper == bounds[-1]
            totals["prepare_done"] = totals["prepare_total"] if done else totals["prepare_done"] + counts["selected"]
            DialerExport.objects.filter(pk=export.pk).update(**totals, frozen_up_to=upper, heartbeat_at=timezone.now())
        last = upper
    if connection.vendor == "postgresql":
        # Thousands of fresh rows: without statistics the planner scans the whole table for every
        # batch update instead of using the (export, client) index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DialerExportItem._meta.db_table}")
    export.refresh_from_db()
    return export


def freeze_chunk(export, queryset, among: Q) -> dict:
    """One pass of the rule over the chunk: the clients to send become items, and every client is counted under
    its reason (the preview's figures)."""
    classified = eligibility.classify(queryset, export.tenant, export.campaign_id, export.created_at, among)
    if connection.vendor == "postgresql":
        return freeze_chunk_postgresql(export, classified)
    return freeze_chunk_portable(export, classified)


# The reasons whose clients become items: sent now, or held until nothing holds them (the window's reason carries
# its opening time after "@", matched by prefix).
ACCEPTED = sorted({eligibility.SEND, *eligibility.HOLD_REASONS} - {eligibility.OUTSIDE_HOURS})


def _item_values(export) -> list:
    """tenant_id, export_id, campaign_id, status, phones: the columns every frozen item shares."""
    return [export.tenant_id, export.pk, export.campaign_id, DialerExportItem.Status.PENDING, "[]"]


def freeze_chunk_postgresql(export, classified) -> dict:
    """The chunk classified once: its clients to send inserted and every client counted, in one statement."""
    table = DialerExportItem._meta.db_table
    accepted = ", ".join(["%s"] * len(ACCEPTED))
    sql, params = (
        classified.annotate(c_id=F("pk"), c_balance=F("open_balance"), c_phones=F("active_phones"))
        .values("c_id", "skip_reason", "c_balance", "c_phones")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH classified AS MATERIALIZED ({sql}), frozen AS ("
            f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error) "
            f"SELECT %s, %s, c_id, %s, %s, %s, '' FROM classified WHERE skip_reason IN ({accepted}) "
            f"OR skip_reason LIKE %s "
            f"ON CONFLICT (export_id, client_id) DO NOTHING) "
            f"SELECT skip_reason, COUNT(*), SUM(c_balance), SUM(c_phones) FROM classified GROUP BY skip_reason",
            [*params, *_item_values(export), *ACCEPTED, f"{eligibility.OUTSIDE_HOURS}@%"],
        )
        groups = [
            {"skip_reason": reason, "n": n, "balance": balance or Decimal("0"), "phones": phones or 0}
            for reason, n, balance, phones in cursor.fetchall()
        ]
    return eligibility.summarize(groups)


def freeze_chunk_portable(export, classified) -> dict:
    """SQLite has no INSERT inside WITH: the rule runs twice over the chunk, at the same instant (the counts, then
    the insert of the clients to send)."""
    table = DialerExportItem._meta.db_table
    groups = classified.values("skip_reason").annotate(
        n=Count("pk"), balance=Sum("open_balance"), phones=Sum("active_phones")
    )
    client_sql, params = (
        classified.filter(Q(skip_reason__in=ACCEPTED) | Q(skip_reason__startswith=f"{eligibility.OUTSIDE_HOURS}@"))
        .annotate(frozen_client_id=F("pk"))
        .values("frozen_client_id")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error) "
            f"SELECT %s, %s, selected.frozen_client_id, %s, %s, %s, '' FROM ({client_sql}) AS selected "
            f"WHERE true ON CONFLICT (export_id, client_id) DO NOTHING",
            [*_item_values(export), *params],
        )
    return eligibility.summarize(groups)
