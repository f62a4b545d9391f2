"""`manage.py db_worker`: django-tasks-db's worker that outlives its database, plus a heartbeat that /healthz reads.

django-tasks-db's loop lets any database error out, so a PostgreSQL restart (even `pg_ctl restart -m fast`)
ended every worker; under --reload only the loop's thread ended, and its heartbeat thread went on saying "ok".
Here the loop waits out an outage with a growing delay and goes on; a task the outage interrupted goes back to
the queue instead of being marked failed. The heartbeat beats only while the loop itself is alive (its thread
runs, and it went round within WORKER_STALE_SECONDS or is inside a task), so /healthz sees a dead loop.

At each beat the worker also runs settings.WORKER_PERIODIC (django-tasks-db has no scheduler): the sweeps that
re-queue work whose worker died, and the daily tasks (queued at a worker's first beat when missed).

core comes before django_tasks_db in INSTALLED_APPS, so this command is the one `db_worker` runs.
"""

import contextlib
import os
import random
import socket
import threading
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django.utils.module_loading import import_string
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from core import task_leases
from core.models import WorkerHeartbeat

logger = db_worker.logger


class Backoff:
    """Waits between attempts while the database is away: 0.5 s doubling up to 15 s, each with jitter so that
    a fleet of workers does not reconnect in step."""

    def __init__(self, base: float = 0.5, cap: float = 15.0):
        self.base, self.cap, self.attempts = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempts)
        self.attempts += 1
        return delay * random.uniform(0.5, 1.0)  # jitter, so a fleet does not reconnect in step

    def reset(self) -> None:
        self.attempts = 0


class Worker(db_worker.Worker):
    def __init__(self, *, heartbeat: bool, **kwargs):
        super().__init__(**kwargs)
        self.heartbeat = heartbeat
        self.thread: threading.Thread | None = None
        self.last_tick = time.monotonic()
        self.interrupted: DBTaskResult | None = None  # a task whose end could not be recorded (the database left)

    def alive(self) -> bool:
        """The loop's thread runs and is either inside a task or went round recently."""
        return (
            self.thread is not None
            and self.thread.is_alive()
            and (self.running_task or time.monotonic() - self.last_tick < settings.WORKER_STALE_SECONDS)
        )

    def run(self) -> None:
        self.thread = threading.current_thread()
        if self.heartbeat:
            Heartbeat(self, settings.WORKER_HEARTBEAT_SECONDS).start()
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # as django-tasks-db: no thundering herd
        outage = Backoff()
        while self.running:
            self.last_tick = time.monotonic()
            try:
                if self.interrupted is not None:
                    task_leases.requeue(self.interrupted, task_leases.RUNNING, reason="o banco de dados caiu")
                    self.interrupted = None
                if self.poll():
                    return
                outage.reset()
            except DatabaseError as error:
                if self.batch:  # a --batch run ends with the queue; it has no outage to outlive
                    raise
                delay = outage.next()
                if isinstance(error, OperationalError) and is_locked_database_exception(error):
                    logger.info("Banco de dados ocupado; nova tentativa em %.1f s", delay)
                else:
                    logger.warning("Banco de dados indisponível (%s); nova tentativa em %.1f s", error, delay)
                with contextlib.suppress(Exception):
                    connection.close()  # a broken connection is replaced at the next query
                self.wait(delay)

    def wait(self, seconds: float) -> None:
        """Sleep, still counting as alive for the heartbeat, and stop early when asked to shut down."""
        deadline = time.monotonic() + seconds
        while self.running and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            self.last_tick = time.monotonic()

    def poll(self) -> bool:
        """One round of django-tasks-db's loop; True when the worker should end (--batch done, --max-tasks)."""
        db_worker.close_old_connections()  # through the module, so the tests' patch of it applies
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        if task_result is not None:
            self.run_task(task_result)
        if self.batch and task_result is None:
            logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
            return True
        if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
            logger.info("Run maximum tasks (%d) on worker=%s - exiting gracefully.", self._run_tasks, self.worker_id)
            return True
        db_worker.close_old_connections()
        if self.running and task_result is None:
            self.wait(self.interval)
        return False

    def run_task(self, db_task_result: DBTaskResult) -> None:
        # If recording the result fails (the database left), the loop puts the task back once it is back.
        self.interrupted = db_task_result
        super().run_task(db_task_result)
        self.interrupted = None
        if (
            db_task_result.status == task_leases.FAILED
            and db_task_result.exception_class_path in task_leases.OUTAGE_ERRORS
        ):
            # The task failed because the database went away under it: that is no verdict on the task.
            task_leases.requeue(db_task_result, task_leases.FAILED, reason="o banco de dados caiu", delay=1)


class Heartbeat(threading.Thread):
    def __init__(self, worker: Worker, interval: float):
        super().__init__(name=f"heartbeat-{worker.worker_id}", daemon=True)
        self.worker = worker
        self.interval = interval
        self.stopped = threading.Event()
        self.started_at = timezone.now()
        self.reported_dead = False

    def run(self):
        while not self.stopped.is_set():
            try:
                self.tick()
            except Exception:  # whatever happens, the next beat comes
                logger.exception("Heartbeat do worker %s falhou", self.worker.worker_id)
            finally:
                with contextlib.suppress(Exception):
                    connection.close()  # this thread's own connection; a new one next beat
            self.stopped.wait(self.interval)

    def tick(self) -> bool:
        """Beat and run the periodic jobs, only while the task loop is alive; True when it beat."""
        if not self.worker.alive():
            if not self.reported_dead:
                logger.error("O loop de tarefas do worker %s parou: sem heartbeat", self.worker.worker_id)
                self.reported_dead = True
            return False
        self.reported_dead = False
        try:
            self.beat()
        except DatabaseError as error:
            logger.warning("Heartbeat do worker %s falhou: %s", self.worker.worker_id, error)
            return False
        for name in settings.WORKER_PERIODIC:
            try:
                import_string(name)()
            except Exception:  # one failing job must stop neither the beat nor the other jobs
                logger.exception("Tarefa periódica %s falhou no worker %s", name, self.worker.worker_id)
        return True

    def beat(self):
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker.worker_id,
            defaults={
                "hostname": socket.gethostname()[:200],
                "pid": os.getpid(),
                "started_at": self.started_at,
                "last_seen": timezone.now(),
            },
        )


class Command(db_worker.Command):
    help = "Roda o worker das tarefas (envios ao discador, qualificações) com heartbeat para o /healthz."

    def handle(
        self,
        *,
        verbosity,
        queue_name,
        interval,
        batch,
        backend_name,
        startup_delay,
        reload,
        max_tasks,
        worker_id,
        exclude_queues,
        **options,
    ):
        # django-tasks-db's handle, with this module's Worker.
        self.configure_logging(verbosity)
        if reload and batch:
            logger.warning("Warning: --reload and --batch cannot be specified together. Disabling autoreload.")
            reload = False
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            heartbeat=not batch,  # a --batch run is not a standing worker
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload:
            # The loop runs in the reloader's child process only; its heartbeat starts with it.
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
