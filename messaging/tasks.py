from django.tasks import task

from messaging import services


@task
def deliver(message_id: int) -> str:
    """Hand one queued message to its channel (worker: `manage.py db_worker`), outside any transaction."""
    return services.deliver(message_id)


@task
def run_cadence() -> int:
    """The daily régua of every tenant (settings.WORKER_DAILY, or `manage.py run_cadence`); how many were queued."""
    from messaging import cadence

    return cadence.run_all()
