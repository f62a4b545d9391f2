from django.tasks import task

from core import import_jobs


@task
def prune_import_reports() -> int:
    """Daily (settings.WORKER_DAILY): error reports older than WALLET_IMPORT_REPORT_DAYS go."""
    return import_jobs.prune_error_reports()


@task
def import_wallet_file(import_id: int) -> str:
    """The background half of the admin's Carteira import (worker: `manage.py db_worker`)."""
    return import_jobs.run_import(import_id).status
