"""Messaging's HTTP: Meta's webhook, and the atendimento's chat panel (loaded into the atendimento page by htmx)."""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging import webhooks
from messaging.settings_schema import VERIFY_TOKEN
from tenants.models import Tenant

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request, tenant_id):
    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    if tenant is None:
        raise Http404
    if request.method == "GET":
        # Meta's subscription handshake: echo hub.challenge when hub.verify_token is ours.
        expected = str(tenant.setting(VERIFY_TOKEN) or "")
        given = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        if (
            request.GET.get("hub.mode") == "subscribe"
            and expected
            and webhooks.hmac.compare_digest(expected.encode(), given.encode())
            and challenge.isascii()
            and challenge.isalnum()
            and len(challenge) <= 200
        ):
            return HttpResponse(challenge, content_type="text/plain")
        return HttpResponseForbidden("token de verificação inválido")
    declared = request.META.get("CONTENT_LENGTH", "")
    if declared and not (declared.isascii() and declared.isdigit() and len(declared) < 20):
        return JsonResponse({"erro": "Content-Length inválido."}, status=400)
    if int(declared or 0) > settings.MESSAGING_WEBHOOK_MAX_BYTES:
        return JsonResponse({"erro": "Corpo grande demais."}, status=413)
    body = request.body
    if not webhooks.signature_valid(
        webhooks.app_secret_of(tenant), body, request.headers.get("X-Hub-Signature-256", "")
    ):
        return JsonResponse({"erro": "Assinatura inválida."}, status=403)
    payload = webhooks.parse(body)
    if payload is None:
        return JsonResponse({"erro": "O corpo não é JSON."}, status=400)
    try:
        counts = webhooks.handle(tenant, payload)
    except DatabaseError:
        response = JsonResponse({"erro": "Banco de dados indisponível; tente de novo."}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(counts)


# -- the atendimento's chat ----------------------------------------------------------------------------------------

CHAT_LIMIT = 200
TEMPLATES_CACHE_SECONDS = 600


def approved_templates(tenant) -> tuple[list, str]:
    """The tenant's approved WhatsApp templates (cached ten minutes) and, when they cannot be read, why."""
    from django.core.cache import cache

    from messaging.errors import MessagingError
    from messaging.services import whatsapp_api

    key = f"messaging:templates:{tenant.pk}"
    found = cache.get(key)
    if found is not None:
        return found, ""
    try:
        with whatsapp_api(tenant) as api:
            found = api.approved_templates()
    except MessagingError as error:
        return [], error.message
    cache.set(key, found, TEMPLATES_CACHE_SECONDS)
    return found, ""


def chat_context(request, tenant, client, *, error="", notice="", typed=None):
    """The chat panel. `typed`: (template key, values) the operator sent back with an error, shown again as typed."""
    from django.utils import timezone

    from attendance.models import Message
    from messaging import services

    newest = list(
        Message.objects.filter(client=client).select_related("author").order_by("-sent_at", "-id")[: CHAT_LIMIT + 1]
    )
    closes_at = services.window_closes_at(client)
    configured = services.whatsapp_configured(tenant)
    templates, templates_error = approved_templates(tenant) if configured else ([], "")
    values = services.variables_for(client)
    services.mark_seen(client)
    return {
        "client": client,
        "chat": newest[:CHAT_LIMIT][::-1],
        "chat_truncated": len(newest) > CHAT_LIMIT,
        "last_id": max((m.pk for m in newest), default=0),
        "window_closes_at": closes_at,
        "now": timezone.now(),
        "configured": configured,
        "opted_out": services.opted_out(client, Message.Channel.WHATSAPP),
        "templates": [template_form(t, values, typed) for t in templates],
        "suggestions": [{"label": label, "value": values[name]} for name, label in SUGGESTIONS if values.get(name)],
        "max_variable": services.MAX_TEMPLATE_VARIABLE,
        "templates_error": templates_error,
        "error": error,
        "notice": notice,
    }


DEFAULT_VARIABLES = ["{nome}", "{valor}", "{pix}"]
# What the operator may pick for any variable (a datalist): the client's values, by what they are.
SUGGESTIONS = [
    ("nome", gettext_lazy("Nome")),
    ("nome_completo", gettext_lazy("Nome completo")),
    ("valor", gettext_lazy("Valor em aberto")),
    ("pix", gettext_lazy("PIX da próxima parcela")),
]


def template_form(template, values: dict[str, str], typed=None) -> dict:
    """One approved template as the chat offers it: its text (never editable) and one input per variable, filled
    from the client ({nome}, {valor}, {pix} in that order, the rest empty) or as the operator typed them."""
    key = f"{template.name}|{template.language}"
    if typed is not None and typed[0] == key:
        filled = list(typed[1])
    else:
        from messaging import services

        filled = [services.fill(spec, values) for spec in DEFAULT_VARIABLES[: template.variables]]
    filled += [""] * (template.variables - len(filled))
    return {
        "key": key,
        "name": template.name,
        "language": template.language,
        "body": template.body,
        "variables": [{"number": number, "value": value} for number, value in enumerate(filled, 1)],
        "preview": fill_template(template.body, filled),
    }


def fill_template(body: str, values: list[str]) -> str:
    for index, value in enumerate(values, 1):
        body = body.replace("{{" + str(index) + "}}", value)
    return body


def chat(request, client_id):
    from django.contrib.auth.views import redirect_to_login
    from django.shortcuts import render

    from attendance.views import client_or_404

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    tenant, client = client_or_404(request, client_id)
    if request.method == "POST":
        return chat_send(request, tenant, client)
    after = request.GET.get("after", "")
    if after.isascii() and after.isdigit() and len(after) < 19:
        return chat_new(request, tenant, client, int(after))
    return render(request, "messaging/chat.html", chat_context(request, tenant, client))


def chat_new(request, tenant, client, after: int):
    """The poll: the messages newer than `after`, the statuses of the newest shown ones, and the poller itself
    with the new `after` (out of band)."""
    from django.shortcuts import render

    from attendance.models import Message
    from messaging import services

    fresh = list(
        Message.objects.filter(client=client, pk__gt=after).select_related("author").order_by("sent_at", "id")[:50]
    )
    recent = list(
        Message.objects.filter(client=client, pk__lte=after, direction=Message.Direction.OUTBOUND)
        .only("pk", "status")
        .order_by("-sent_at", "-id")[:20]
    )
    if fresh:
        services.mark_seen(client)
    response = render(
        request,
        "messaging/_chat_new.html",
        {"fresh": fresh, "recent": recent, "last_id": max([after, *(m.pk for m in fresh)]), "client": client},
    )
    if any(m.direction == Message.Direction.INBOUND for m in fresh):
        # The debtor wrote: the window (and so the free-text box) may have just opened; the panel reloads.
        response["HX-Trigger-After-Settle"] = "chat-inbound"
    return response


def chat_send(request, tenant, client):
    from django.shortcuts import render

    from messaging import errors, services
    from messaging.whatsapp import Template

    kind = request.POST.get("kind", "text")
    typed = None
    try:
        if kind == "template":
            key = request.POST.get("template", "")
            templates, problem = approved_templates(tenant)
            template: Template | None = next((t for t in templates if f"{t.name}|{t.language}" == key), None)
            if template is None:
                raise errors.TemplateError(problem or str(_("Escolha um modelo aprovado.")))
            typed = (key, [request.POST.get(f"var{i}", "") for i in range(1, template.variables + 1)])
            parameters = services.operator_parameters(typed[1], client)
            services.send_template(tenant, client, request.user, template, parameters)
        else:
            services.send_text(tenant, client, request.user, request.POST.get("text", ""))
    except errors.MessagingError as error:
        if typed is not None:  # shown again as typed, cut to what an input holds
            typed = (typed[0], [value[: services.MAX_TEMPLATE_VARIABLE] for value in typed[1]])
        context = chat_context(request, tenant, client, error=error.message, typed=typed)
        response = render(request, "messaging/chat.html", context)
        response.status_code = 422 if not request.htmx else 200
        return response
    return render(
        request,
        "messaging/chat.html",
        chat_context(request, tenant, client, notice=str(_("Mensagem na fila de envio."))),
    )


def unread(request):
    """The console's unread WhatsApp counts (loaded and refreshed by htmx)."""
    from django.contrib.auth.views import redirect_to_login
    from django.shortcuts import render

    from attendance.views import tenant_or_404
    from messaging import services

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    tenant = tenant_or_404(request)
    return render(request, "messaging/_unread.html", {"rows": services.unread_counts(tenant, request.user)})


def media(request, client_id, message_id):
    """An inbound message's media, fetched from WhatsApp with the tenant's token (the browser never sees it)."""
    from django.contrib.auth.views import redirect_to_login

    from attendance.models import Message
    from attendance.views import client_or_404
    from messaging.errors import MessagingError
    from messaging.services import whatsapp_api

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    tenant, client = client_or_404(request, client_id)
    message = Message.objects.filter(client=client, pk=message_id).exclude(media_id="").first()
    if message is None:
        raise Http404
    try:
        with whatsapp_api(tenant) as api:
            found = api.media_url(message.media_id)
            content, content_type = api.download(found["url"])
    except MessagingError as error:
        return HttpResponse(error.message, status=502, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type=found["mime_type"] or content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


@csrf_exempt
@require_http_methods(["POST"])
def sms_status(request, tenant_id):
    """Twilio's StatusCallback: MessageSid and MessageStatus, signed with the tenant's auth token."""
    from messaging import channels, services
    from messaging.errors import NotConfiguredError

    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    if tenant is None:
        raise Http404
    try:
        config = channels.sms_config(tenant)
    except NotConfiguredError:
        raise Http404 from None
    params = {key: request.POST.get(key, "")[:200] for key in list(request.POST.keys())[:50]}
    url = settings.PUBLIC_BASE_URL + request.path
    expected = channels.twilio_signature(config["token"], url, params)
    if not webhooks.hmac.compare_digest(expected, request.headers.get("X-Twilio-Signature", "")):
        return JsonResponse({"erro": "Assinatura inválida."}, status=403)
    sid, state = params.get("MessageSid", ""), channels.SMS_STATUSES.get(params.get("MessageStatus", ""))
    if sid and state and sid.isascii() and sid.isalnum():
        services.apply_status(tenant, f"sms:{sid}", state, params.get("ErrorMessage", ""))
    return JsonResponse({"ok": True})
