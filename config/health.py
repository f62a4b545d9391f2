"""The /healthz probe: the project's view over every app's figures, so no app has to import another for it."""

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django_tasks_db.models import DBTaskResult

from core.models import WorkerHeartbeat
from dialer.selectors import stuck_exports_count


@never_cache
def healthz(request):
    """200 when the database answers, a worker beat recently and no dialer export is stuck; 503 otherwise.

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
    except DatabaseError:
        body = {"database": "erro", "worker": "desconhecido"}
    healthy = body["database"] == "ok" and body["worker"] == "ok" and not body.get("exports_stuck")
    return JsonResponse({"status": "ok" if healthy else "falha", **body}, status=200 if healthy else 503)
