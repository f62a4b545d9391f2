from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dialer import calls, ingestion

# The webhook's one route: config/urls.py mounts the view on it, dialer.asgi matches it before Django's request cycle.
WEBHOOK_ROUTE = "dialer/webhooks/3cplus/<str:secret>/"


@csrf_exempt
@require_POST
def threecplus_webhook(request, secret):
    """The tenant's 3C Plus webhook (see dialer.calls.receive_webhook). Under uvicorn dialer.asgi answers it.

    The secret is checked before the body is read, and the body is bounded (DIALER_WEBHOOK_MAX_BYTES); while the
    database is away the answer is a 503 (3C Plus retries), not a 500.
    """
    try:
        if not ingestion.webhook_secret_is_valid(secret):
            raise Http404
        declared = request.META.get("CONTENT_LENGTH", "")
        if not (declared.isascii() and declared.isdigit() and len(declared) < 20):
            declared = "0"
        if int(declared) > settings.DIALER_WEBHOOK_MAX_BYTES:
            return JsonResponse({"erro": "Corpo grande demais."}, status=413)
        received = calls.receive_webhook(secret, request.body)
    except DatabaseError:
        response = JsonResponse({"erro": "Banco de dados indisponível; tente de novo."}, status=503)
        response["Retry-After"] = "5"
        return response
    if received is None:
        raise Http404
    status, answer = received
    return JsonResponse(answer, status=status)
