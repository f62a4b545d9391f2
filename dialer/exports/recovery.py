"""Getting an export going again: after a crash (the items posted but never acknowledged, the exports whose worker
died, swept by every worker), and on demand ("Continuar envio", "Tentar novamente" on the failed items)."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common import advisory_locks
from dialer import selectors
from dialer.exports.any_of import client_in
from dialer.exports.items import EXPORT_LOCK_NAMESPACE, enqueue_export
from dialer.models import DialerExport, DialerExportItem
from dialer.removals import mailing_keys

logger = logging.getLogger(__name__)


def recover_unacknowledged(export, api):
    """Items posted by a run that ended before writing the answer down (a worker that died, acknowledged batches
    not yet recorded): removed from the campaign, then sent again. In chunks: a big run can leave many."""
    sending = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.SENDING)
    while True:
        stuck = list(sending.order_by("client_id").values_list("client_id", "phones")[: export.batch_size])
        if not stuck:
            return
        api.delete_mailing(export.campaign_id, mailing_keys(stuck))
        DialerExportItem.objects.filter(client_in(client_id for client_id, _ in stuck), export=export).update(
            status=DialerExportItem.Status.PENDING, phones=[]
        )


RESUMABLE = (DialerExport.Status.PAUSED, DialerExport.Status.FAILED)


def resume_export(export) -> bool:
    """ "Continuar envio": a paused or failed export goes back to the queue now. False if it is not resumable."""
    with transaction.atomic():
        resumed = DialerExport.objects.filter(pk=export.pk, status__in=RESUMABLE).update(
            status=DialerExport.Status.QUEUED,
            pauses=0,
            next_attempt_at=None,
            finished_at=None,
            heartbeat_at=timezone.now(),
            error_summary="",
        )
        if resumed:
            transaction.on_commit(lambda: enqueue_export(export))
    export.refresh_from_db()
    return bool(resumed)


def sweep_exports() -> list[int]:
    """Re-queue the exports whose worker died and the paused ones that are due (run by every worker).

    On PostgreSQL a running export whose advisory lock is held still has a live worker (a slow batch
    outlived the lease): it is left alone. The locks taken here are released before the task is queued.
    """
    requeued = []
    with transaction.atomic():
        candidates = selectors.stranded_exports().select_for_update(skip_locked=True).values_list("pk", flat=True)
        with advisory_locks.try_locks(EXPORT_LOCK_NAMESPACE, list(candidates)) as free:
            requeued = free  # rows locked above: nobody changed their status since
            DialerExport.objects.filter(pk__in=free).update(
                status=DialerExport.Status.QUEUED, heartbeat_at=timezone.now(), next_attempt_at=None
            )
    for export_id in requeued:
        logger.warning("Envio %s retomado pela varredura (worker parado ou pausa vencida).", export_id)
        enqueue_export(DialerExport(pk=export_id))
    return requeued


def retry_failures(export) -> DialerExport:
    """Put failed items back in the queue and run the export again."""
    with transaction.atomic():
        failed = DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED)
        count = failed.update(status=DialerExportItem.Status.PENDING, error="")
        DialerExport.objects.filter(pk=export.pk).update(
            status=DialerExport.Status.QUEUED,
            failed_count=F("failed_count") - count,
            finished_at=None,
            heartbeat_at=timezone.now(),
            error_summary="",
        )
    transaction.on_commit(lambda: enqueue_export(export))
    export.refresh_from_db()
    return export
