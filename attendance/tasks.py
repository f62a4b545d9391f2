from django.tasks import task

from attendance import services


@task
def send_qualification(disposition_id: int) -> str:
    """Write a tabulação back to 3C Plus as the call's qualification (worker: `manage.py db_worker`)."""
    return services.send_qualification(disposition_id).qualification_status
