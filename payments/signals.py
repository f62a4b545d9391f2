"""The agreement's life as the payments app hears it: attendance sends nothing for us (it does not know this app);
every change of an agreement's state goes through Agreement.save (creation, approval, rejection, cancellation), and
the daily breakage, which updates in bulk, is caught by charges.sweep_charges."""

import logging

from django.db import transaction

from payments import provider

logger = logging.getLogger(__name__)


def agreement_saved(sender, instance, created, update_fields=None, **kwargs):
    if update_fields is not None and "status" not in update_fields:
        return
    if not provider.is_configured(instance.tenant):
        return
    agreement_id = instance.pk

    def enqueue():
        from payments.tasks import sync_agreement_charges

        try:
            sync_agreement_charges.enqueue(agreement_id)
        except Exception:  # the sweep finds it (a pending charge, an ended agreement) at the next heartbeat
            logger.exception("Não foi possível agendar as cobranças do acordo %s", agreement_id)

    transaction.on_commit(enqueue)
