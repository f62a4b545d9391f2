import hmac

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dialer import webhooks
from tenants.models import Tenant, secret_digest


@csrf_exempt
@require_POST
def threecplus_webhook(request, secret):
    """The tenant's 3C Plus webhook: any JSON is a 2xx (see dialer.webhooks); each event stored once."""
    tenant = Tenant.objects.filter(webhook_secret_digest=secret_digest(secret), active=True).first()
    if tenant is None or not hmac.compare_digest(tenant.webhook_secret, secret):
        raise Http404
    status, answer = webhooks.receive(tenant, request.body, secret)
    return JsonResponse(answer, status=status)
