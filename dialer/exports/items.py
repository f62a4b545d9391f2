"""The bookkeeping every step of an export shares: its lock, its queueing, its items' states and how it ends."""

import json

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from common import advisory_locks
from dialer import eligibility
from dialer.exports.any_of import client_in
from dialer.models import DialerExport, DialerExportItem

EXPORT_LOCK_NAMESPACE = 3  # pg advisory lock key space of dialer exports


def export_lock(export_id: int):
    """Held by the worker running an export; PostgreSQL releases it if the worker dies."""
    return advisory_locks.try_lock(EXPORT_LOCK_NAMESPACE, export_id)


def enqueue_export(export):
    from dialer.tasks import send_export

    send_export.enqueue(export.pk)


def mark_sending(export, batch_phones):
    """One statement: these clients' phones are about to be posted (so a rerun can find them and remove them
    before sending again, whether or not they went)."""
    table = DialerExportItem._meta.db_table
    sending = DialerExportItem.Status.SENDING
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The pairs as one JSON document: a single parameter, encoded in one go.
            cursor.execute(
                f"UPDATE {table} AS item SET status = %s, phones = data.phones "
                f"FROM jsonb_to_recordset(%s::jsonb) AS data(client_id bigint, phones jsonb) "
                f"WHERE item.export_id = %s AND item.client_id = data.client_id",
                [sending, json.dumps([{"client_id": i, "phones": p} for i, p in batch_phones.items()]), export.pk],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET status = %s, phones = %s WHERE export_id = %s AND client_id = %s",
                [(sending, json.dumps(p), export.pk, i) for i, p in batch_phones.items()],
            )


def mark(export, client_ids, status, *, error=""):
    """Failed items, with the reason, and the export's failure counter."""
    client_ids = list(client_ids)
    with transaction.atomic():
        DialerExportItem.objects.filter(client_in(client_ids), export=export).update(status=status, error=error)
        DialerExport.objects.filter(pk=export.pk).update(
            failed_count=F("failed_count") + len(client_ids), heartbeat_at=timezone.now()
        )


def finish(export, status, error):
    fields = {"status": status, "finished_at": timezone.now(), "next_attempt_at": None}
    if error:
        fields["error_summary"] = error
    elif status in (DialerExport.Status.PARTIAL, DialerExport.Status.FAILED):
        failures = (
            DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED)
            .values("error")
            .annotate(n=Count("pk"))
            .order_by("-n")[:5]
        )
        fields["error_summary"] = "\n".join(f"{f['n']}× {f['error']}" for f in failures)
    DialerExport.objects.filter(pk=export.pk).update(**fields)
    export.refresh_from_db()
    return export


def skip(export, blocked: dict[str, list[int]]) -> None:
    """{reason: client ids} the rule no longer lets be sent: their items are skipped with the reason, and the
    export's counts follow."""
    if not blocked:
        return
    with transaction.atomic():
        export = DialerExport.objects.select_for_update().get(pk=export.pk)
        skipped = dict(export.skipped or {})
        for reason, ids in blocked.items():
            DialerExportItem.objects.filter(client_in(ids), export=export).update(
                status=DialerExportItem.Status.SKIPPED, error=eligibility.reason_label(reason)
            )
            skipped[reason] = skipped.get(reason, 0) + len(ids)
        dropped = sum(len(ids) for ids in blocked.values())
        DialerExport.objects.filter(pk=export.pk).update(
            skipped=skipped, to_send_count=F("to_send_count") - dropped, heartbeat_at=timezone.now()
        )
