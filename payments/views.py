from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import provider, receiving
from payments.settings_schema import REQUIRE_MTLS


def _declared_length(request) -> int:
    declared = request.META.get("CONTENT_LENGTH", "")
    return int(declared) if declared.isascii() and declared.isdigit() and len(declared) < 20 else 0


@csrf_exempt
@require_POST
def pix_webhook(request, secret):
    """The PSP's webhook of received PIX ({"pix": [...]}, POSTed to the registered URL + "/pix").

    Checked before the body is read: the URL's token (an HMAC of the tenant, compared in constant time) and, where the
    tenant requires it, the mTLS verdict the TLS proxy forwards (PAYMENTS_MTLS_HEADER = SUCCESS), as the standard has
    the PSP authenticate with its certificate. The body is bounded. Every well-formed body gets a 200 and is stored;
    refused items are counted in the answer.
    """
    try:
        tenant = provider.tenant_for_webhook(secret)
        if tenant is None:
            raise Http404
        if tenant.setting(REQUIRE_MTLS) and request.META.get(settings.PAYMENTS_MTLS_HEADER, "") != "SUCCESS":
            return JsonResponse({"erro": "Certificado do PSP não verificado."}, status=403)
        if _declared_length(request) > settings.PAYMENTS_WEBHOOK_MAX_BYTES:
            return JsonResponse({"erro": "Corpo grande demais."}, status=413)
        body = request.read(settings.PAYMENTS_WEBHOOK_MAX_BYTES + 1)
        if len(body) > settings.PAYMENTS_WEBHOOK_MAX_BYTES:
            return JsonResponse({"erro": "Corpo grande demais."}, status=413)
        try:
            answer = receiving.receive_webhook(tenant, body)
        except receiving.BadPayload as error:
            return JsonResponse({"erro": str(error)}, status=400)
    except DatabaseError:
        response = JsonResponse({"erro": "Banco de dados indisponível; tente de novo."}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(answer, status=200)
