"""The /healthz probe: the project's view over every app's figures, so no app has to import another for it."""

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django_tasks_db.models import DBTaskResult

from attendance.services import lost_qualifications
from core import task_leases
from core.daily import missed_daily_tasks
from core.import_jobs import stranded_imports
from core.models import WorkerHeartbeat
from dialer.selectors import failing_reconciliations_count, stuck_exports_count, stuck_removals_count

# Each kind of background work that /healthz watches: 503 while any of these counts is above zero.
STUCK = ("exports_stuck", "imports_stuck", "removals_stuck", "qualifications_stuck", "tasks_orphaned")


@never_cache
def healthz(request):
    """200 when the database answers, a worker's task loop beat recently, no background work is stuck and no
    daily task was missed; 503 otherwise.

    No tenant data: only counts.
    """
    body = {"database": "ok", "worker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        since = timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS)
        last = WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True).first()
        body["workers_alive"] = WorkerHeartbeat.objects.filter(last_seen__gte=since).count()
        body["worker_last_seen_seconds"] = round((timezone.now() - last).total_seconds()) if last else None
        body["tasks_waiting"] = DBTaskResult.objects.ready().count()
        if not body["workers_alive"]:
            body["worker"] = "sem sinal"
        body["exports_stuck"] = stuck_exports_count()
        stuck_since = timezone.now() - timedelta(seconds=settings.WORKER_STUCK_SECONDS)
        body["imports_stuck"] = stranded_imports(now=stuck_since).count()
        body["removals_stuck"] = stuck_removals_count()
        body["qualifications_stuck"] = lost_qualifications(settings.WORKER_STUCK_SECONDS).count()
        body["tasks_orphaned"] = len(task_leases.orphaned_tasks())
        # Reported, not a 503: a tenant's 3C Plus (its token revoked, its account down) is not this server's health,
        # and the load balancer must not take every tenant's site away for it. Its admin sees why on its page.
        body["reconciliations_failing"] = failing_reconciliations_count()
        oldest = WorkerHeartbeat.objects.filter(last_seen__gte=since).order_by("started_at").first()
        body["daily_missed"] = [
            path.rsplit(".", 1)[-1] for path in missed_daily_tasks(oldest.started_at if oldest else None)
        ]
    except DatabaseError:
        body = {"database": "erro", "worker": "desconhecido"}
    healthy = (
        body["database"] == "ok"
        and body["worker"] == "ok"
        and not any(body.get(kind) for kind in STUCK)
        and not body.get("daily_missed")
    )
    return JsonResponse({"status": "ok" if healthy else "falha", **body}, status=200 if healthy else 503)
