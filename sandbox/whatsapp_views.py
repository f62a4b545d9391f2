"""The WhatsApp sandbox mounted in the app (DIALER_SANDBOX): the Graph API at /sandbox/whatsapp/graph/, and a page
to see the conversations, answer as the debtor and mark messages delivered or read."""

import threading
import time

import httpx
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.parsing import try_parse_phone
from messaging.settings_schema import BASE_URL, PHONE_NUMBER_ID, whatsapp_config
from sandbox.whatsapp_fake import TOKEN_PREFIX, WhatsAppSandbox
from tenants.models import Tenant
from tenants.roles import is_back_office, user_tenant
from tenants.secrets import SecretError

WEBHOOK_DELAY_SECONDS = 0.5  # Meta's webhooks come after its API answer; the sender stores the wamid meanwhile


def post_later(url: str, body: bytes, headers: dict) -> int:
    """Webhooks leave on a thread of their own: the API answer never waits for the app's webhook (same server)."""

    def deliver():
        time.sleep(WEBHOOK_DELAY_SECONDS)
        try:
            httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError:
            pass

    threading.Thread(target=deliver, daemon=True).start()
    return 202


SANDBOX = WhatsAppSandbox(post=post_later)


def sandbox_tenant(tenant) -> tuple[str, str] | None:
    """(phone number id, app secret) of a tenant whose WhatsApp points at this sandbox, else None."""
    try:
        config = whatsapp_config(tenant.stored_settings) if tenant is not None else None
    except SecretError:
        return None
    if config is None or not config.token.startswith(TOKEN_PREFIX) or "/sandbox/whatsapp/" not in config.base_url:
        return None
    return config.phone_number_id, config.app_secret


def connect(request, tenant) -> str | None:
    found = sandbox_tenant(tenant)
    if found is None:
        return None
    pnid, secret = found
    SANDBOX.connect(pnid, request.build_absolute_uri(reverse("whatsapp_webhook", args=[tenant.pk])), secret)
    return pnid


@csrf_exempt
def api(request, path):
    parts = path.strip("/").split("/")
    pnid = parts[1] if len(parts) > 1 else ""
    for tenant in Tenant.objects.filter(active=True, **{f"settings__{PHONE_NUMBER_ID}": pnid})[:5]:
        connect(request, tenant)
    SANDBOX.base_url = request.build_absolute_uri(reverse("sandbox_whatsapp_api", args=["v21.0"])).rstrip("/")
    headers = {key.lower(): value for key, value in request.headers.items()}
    status, response_headers, body = SANDBOX.handle(request.method, path, {}, headers, request.body)
    response = HttpResponse(body, status=status)
    for name, value in response_headers.items():
        response[name] = value
    return response


def _tenant_number(request) -> tuple:
    if not is_back_office(request.user):
        raise PermissionDenied
    tenant = user_tenant(request.user)
    return tenant, connect(request, tenant)


@login_required
def page(request):
    _tenant, pnid = _tenant_number(request)
    context = {
        **admin.site.each_context(request),
        "title": "Sandbox WhatsApp",
        "pnid": pnid,
        "conversations": SANDBOX.conversation_list(pnid) if pnid else [],
        "api_url": request.build_absolute_uri("/sandbox/whatsapp/graph/v21.0"),
        "base_url_key": BASE_URL,
    }
    return render(request, "sandbox/whatsapp.html", context)


@login_required
@require_POST
def reply(request):
    """The debtor writes: the sandbox posts the message to the tenant's webhook, signed as Meta signs it."""
    _tenant, pnid = _tenant_number(request)
    if pnid is None:
        raise PermissionDenied
    phone = try_parse_phone(request.POST.get("phone", ""))
    text = request.POST.get("text", "").strip()[:4096]
    if phone is None or not (text or request.POST.get("media")):
        messages.error(request, "Informe o telefone do devedor e a mensagem.")
        return redirect("sandbox_whatsapp")
    media = {"type": "image", "caption": text} if request.POST.get("media") else None
    SANDBOX.reply(pnid, phone.lstrip("+"), text, media=media)
    messages.success(request, "Mensagem do devedor enviada ao webhook.")
    return redirect("sandbox_whatsapp")


@login_required
@require_POST
def advance(request):
    """The debtor's phone received (entregue) or opened (lida) a message."""
    _tenant, pnid = _tenant_number(request)
    status = request.POST.get("status", "")
    wamid = request.POST.get("wamid", "")
    message = SANDBOX.sent.get(wamid)
    if pnid is None or status not in ("delivered", "read") or message is None or message["pnid"] != pnid:
        raise PermissionDenied
    SANDBOX.advance(wamid, status)
    messages.success(request, "Situação enviada ao webhook.")
    return redirect("sandbox_whatsapp")
