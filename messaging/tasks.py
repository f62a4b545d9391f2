import datetime

from django.conf import settings
from django.tasks import task
from django.utils import timezone

from messaging import services


@task
def deliver(message_id: int) -> str:
    """Hand one queued message to its channel (worker: `manage.py db_worker`), outside any transaction."""
    return services.deliver(message_id)


@task
def run_cadence() -> int:
    """The régua of every tenant; how many messages were queued.

    Queued once a day by the workers (settings.WORKER_DAILY), it runs again every MESSAGING_CADENCE_EVERY_MINUTES
    until local midnight: a debtor whose legal hours open later (another time zone, a Saturday's window) is reached
    when they open, and each run sends only what no earlier run sent (the (step, client, day) key).
    """
    from messaging import cadence

    total = cadence.run_all()
    later = timezone.now() + datetime.timedelta(minutes=settings.MESSAGING_CADENCE_EVERY_MINUTES)
    if timezone.localdate(later) == timezone.localdate():
        run_cadence.using(run_after=later).enqueue()
    return total
