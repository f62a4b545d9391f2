"""`manage.py db_worker`: django-tasks-db's worker, plus a heartbeat that /healthz reads.

At each beat the worker also runs settings.WORKER_PERIODIC (django-tasks-db has no scheduler): the
sweep that re-queues exports whose worker died or whose pause is over.

core comes before django_tasks_db in INSTALLED_APPS, so this command is the one `db_worker` runs.
"""

import os
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import autoreload, timezone
from django.utils.module_loading import import_string
from django_tasks_db.management.commands import db_worker

from core.models import WorkerHeartbeat


class Heartbeat(threading.Thread):
    def __init__(self, worker_id: str, interval: float):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stopped = threading.Event()
        self.started_at = timezone.now()

    def run(self):
        while not self.stopped.is_set():
            try:
                self.beat()
                for name in settings.WORKER_PERIODIC:
                    try:
                        import_string(name)()
                    except Exception:  # one failing job must stop neither the beat nor the other jobs
                        db_worker.logger.exception("Tarefa periódica %s falhou no worker %s", name, self.worker_id)
            finally:
                connection.close()  # this thread's own connection; a new one next beat
            self.stopped.wait(self.interval)

    def beat(self):
        try:
            WorkerHeartbeat.objects.update_or_create(
                worker_id=self.worker_id,
                defaults={
                    "hostname": socket.gethostname()[:200],
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "last_seen": timezone.now(),
                },
            )
        except DatabaseError:
            db_worker.logger.exception("Heartbeat do worker %s falhou", self.worker_id)


class Command(db_worker.Command):
    help = "Roda o worker das tarefas (envios ao discador, qualificações) com heartbeat para o /healthz."

    def handle(self, *args, batch, reload, worker_id, **options):
        # A --batch run is not a standing worker; with --reload only the child process works.
        if not batch and (not reload or os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true"):
            Heartbeat(worker_id, settings.WORKER_HEARTBEAT_SECONDS).start()
        return super().handle(*args, batch=batch, reload=reload, worker_id=worker_id, **options)
