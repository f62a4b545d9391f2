from django.tasks import task

from attendance import services


@task
def send_qualification(disposition_id: int) -> str:
    """Write a tabulação back to 3C Plus as the call's qualification (worker: `manage.py db_worker`)."""
    return services.send_qualification(disposition_id).qualification_status


@task
def break_overdue_agreements() -> int:
    """The daily breakage of agreements overdue beyond their creditor's tolerance; returns how many broke.

    Queued once a day by the workers (settings.WORKER_DAILY); `manage.py break_overdue_agreements` runs it by hand.
    """
    from attendance import payments

    return payments.break_overdue_agreements()
