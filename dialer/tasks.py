from django.tasks import task

from dialer import exports, removals


@task
def send_export(export_id: int) -> str:
    """The background half of "Enviar para discador" (worker: `manage.py db_worker`)."""
    return exports.run_export(export_id).status


@task
def remove_from_lists(removal_id: int) -> str:
    """Take contacts who must not be called out of a 3C Plus campaign."""
    return removals.run_removal(removal_id).status


@task
def reconcile_tenant_calls(tenant_id: int) -> int:
    """Read a tenant's call history back from 3C Plus (GET /calls) and store what the webhook missed."""
    from dialer.calls import reconcile_calls
    from tenants.models import Tenant

    return reconcile_calls(Tenant.objects.get(pk=tenant_id))


@task
def prune_webhook_deliveries() -> int:
    """Daily (settings.WORKER_DAILY): the delivery log keeps what a tenant admin needs to see, not forever."""
    from dialer.calls import prune_deliveries

    return prune_deliveries()
