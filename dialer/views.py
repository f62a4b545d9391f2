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
        body = json.loads(request.body or b"null", parse_constant=_reject_constant)
        if "\\u0000" in json.dumps(body):
            raise webhooks.WebhookError("O corpo contém o caractere nulo (\\u0000), que não é aceito.")
        parsed = webhooks.parse(body)
    except (ValueError, webhooks.WebhookError) as error:
        message = str(error) if isinstance(error, webhooks.WebhookError) else "JSON inválido."
        return JsonResponse({"erro": message}, status=400)
    existing = DialerCallEvent.objects.filter(tenant=tenant, event=parsed.event, call_id=parsed.call_id).first()
    if existing:
        return JsonResponse({"id": existing.pk, "repetido": True})
    fields = {name: _fit(name, value) for name, value in vars(parsed).items()}
    try:
        with transaction.atomic():
            event = DialerCallEvent.objects.create(
                tenant=tenant, client=webhooks.resolve_client(tenant, parsed), raw=body, **fields
            )
    except IntegrityError:  # the same delivery, concurrently
        event = DialerCallEvent.objects.filter(tenant=tenant, event=parsed.event, call_id=parsed.call_id).first()
        if event is None:
            raise
        return JsonResponse({"id": event.pk, "repetido": True})
    return JsonResponse({"id": event.pk, "cliente": event.client_id}, status=201)


def _reject_constant(name):
    raise webhooks.WebhookError(f"JSON inválido: {name} não é um número.")


def _fit(name, value):
    """3C Plus sends what it sends: text longer than our column is cut, not a 500."""
    field = DialerCallEvent._meta.get_field(name)
    if isinstance(value, str) and getattr(field, "max_length", None):
        return value[: field.max_length]
    return value
