import logging

from django.tasks import task

logger = logging.getLogger(__name__)


@task
def sync_agreement_charges(agreement_id: int) -> int:
    """Create (active agreement) or cancel (ended agreement) its charges at the PSP."""
    from payments.charges import sync_agreement

    return sync_agreement(agreement_id)


@task
def sync_agreements_charges(agreement_ids: list[int]) -> int:
    """sync_agreement_charges for the agreements one transaction saved (a payment file pays off thousands)."""
    from payments.charges import sync_agreement

    changed = 0
    for agreement_id in agreement_ids:
        try:
            changed += sync_agreement(agreement_id)
        except Exception:  # one agreement's failure does not hold the others; the sweep comes back to it
            logger.exception("Cobranças do acordo %s não sincronizadas", agreement_id)
    return changed


@task
def register_charge(charge_id: int) -> bool:
    from payments.charges import register

    return register(charge_id)


@task
def cancel_charge(charge_id: int) -> bool:
    from payments.charges import cancel

    return cancel(charge_id)


@task
def post_received(received_id: int) -> str:
    """Post a received payment (webhook or pull) within seconds of its arrival."""
    from payments.receiving import post_received as post

    return post(received_id).status


@task
def pull_tenant(tenant_id: int) -> int:
    """Read the tenant's received PIX back from the PSP (GET /pix) and post what the webhook missed."""
    from payments.receiving import pull_received
    from tenants.models import Tenant

    return pull_received(Tenant.objects.get(pk=tenant_id))
