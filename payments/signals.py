"""The agreement's life as the payments app hears it: attendance sends nothing for us (it does not know this app);
every change of an agreement's state goes through Agreement.save (creation, approval, rejection, cancellation), and
the daily breakage, which updates in bulk, is caught by charges.sweep_charges.

The agreements saved in one transaction are synced by one task per SYNC_BATCH of them, queued when it commits: a
payment file that pays off 33,000 agreements queues 67 tasks, not 33,000."""

import logging

from django.db import transaction

from payments import provider

logger = logging.getLogger(__name__)

SYNC_BATCH = 500


def agreement_saved(sender, instance, created, update_fields=None, **kwargs):
    if update_fields is not None and "status" not in update_fields:
        return
    if not provider.is_configured(instance.tenant):
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # autocommit: the save is committed already
        batch = _Batch()
        batch.ids.append(instance.pk)
        batch()
        return
    _pending_batch(connection).ids.append(instance.pk)


class _Batch:
    """The agreement ids saved in the current transaction; called once it commits."""

    def __init__(self):
        self.ids: list[int] = []
        self.queued = False

    def __call__(self):
        from payments.tasks import sync_agreements_charges

        self.queued = True
        ids = list(dict.fromkeys(self.ids))
        for start in range(0, len(ids), SYNC_BATCH):
            part = ids[start : start + SYNC_BATCH]
            try:
                sync_agreements_charges.enqueue(part)
            except Exception:  # the sweep finds them (a pending charge, an ended agreement) at the next heartbeat
                logger.exception("Não foi possível agendar as cobranças dos acordos %s…", part[:5])


def _pending_batch(connection) -> _Batch:
    """The batch the current transaction's commit will queue: a new one when the last was queued already or the
    (savepoint) block that registered it rolled back."""
    batch, index = getattr(connection, "_agreement_sync_batch", (None, 0))
    callbacks = connection.run_on_commit
    # Where it was registered, looked at directly: a file's transaction may hold thousands of other callbacks.
    if batch is not None and not batch.queued and index < len(callbacks) and callbacks[index][1] is batch:
        return batch
    batch = _Batch()
    transaction.on_commit(batch)
    connection._agreement_sync_batch = (batch, len(connection.run_on_commit) - 1)
    return batch
