import hmac
import json

from django.db import IntegrityError, transaction
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dialer import webhooks
from dialer.models import DialerCallEvent
from tenants.models import Tenant, secret_digest


@csrf_exempt
@require_POST
def threecplus_webhook(request, secret):
    """The tenant's 3C Plus webhook: stores each event once and ties it to the client."""
    tenant = Tenant.objects.filter(webhook_secret_digest=secret_digest(secret), active=True).first()
    if tenant is None or not hmac.compare_digest(tenant.webhook_secret, secret):
        raise Http404
    try:
        body = json.loads(request.body or b"null")
        parsed = webhooks.parse(body)
    except (ValueError, webhooks.WebhookError) as error:
        message = str(error) if isinstance(error, webhooks.WebhookError) else "JSON inválido."
        return JsonResponse({"erro": message}, status=400)
    existing = DialerCallEvent.objects.filter(tenant=tenant, event=parsed.event, call_id=parsed.call_id).first()
    if existing:
        return JsonResponse({"id": existing.pk, "repetido": True})
    fields = {k: v for k, v in vars(parsed).items()}
    try:
        with transaction.atomic():
            event = DialerCallEvent.objects.create(
                tenant=tenant, client=webhooks.resolve_client(tenant, parsed), raw=body, **fields
            )
    except IntegrityError:  # the same delivery, concurrently
        event = DialerCallEvent.objects.get(tenant=tenant, event=parsed.event, call_id=parsed.call_id)
        return JsonResponse({"id": event.pk, "repetido": True})
    return JsonResponse({"id": event.pk, "cliente": event.client_id}, status=201)
