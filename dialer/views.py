from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dialer import calls


@csrf_exempt
@require_POST
def threecplus_webhook(request, secret):
    """The tenant's 3C Plus webhook (see dialer.calls.receive_webhook)."""
    received = calls.receive_webhook(secret, request.body)
    if received is None:
        raise Http404
    status, answer = received
    return JsonResponse(answer, status=status)
