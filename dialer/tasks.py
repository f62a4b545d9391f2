from django.tasks import task

from dialer import services


@task
def send_export(export_id: int) -> str:
    """The background half of "Enviar para discador" (worker: `manage.py db_worker`)."""
    return services.run_export(export_id).status
