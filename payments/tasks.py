from django.tasks import task


@task
def sync_agreement_charges(agreement_id: int) -> int:
    """Create (active agreement) or cancel (ended agreement) its charges at the PSP."""
    from payments.charges import sync_agreement

    return sync_agreement(agreement_id)


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
