"""The sandbox PSP mounted in the app (DIALER_SANDBOX): the API Pix under /sandbox/psp/, and a page where the back
office "pays" a charge as the debtor would (optionally losing the webhook, for the pull to recover it) and downloads
the CNAB 240 retorno of the boletos paid.

One fake per web process, in memory: the demo's worker reaches it over HTTP like a real PSP; a restart forgets it
(the charges are created again for new agreements)."""

import threading

import httpx
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import provider
from payments.settings_schema import CLIENT_ID
from sandbox.pix_fake import CLIENT_PREFIX, PixSandbox
from tenants.roles import is_back_office, user_tenant


def _post_in_background(url: str, body: bytes) -> str:
    """The webhook leaves on a thread of its own: the page that paid never waits on (or deadlocks with) the
    receiver, which may be this very process."""

    def send():
        try:
            httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=10)
        except httpx.HTTPError:
            pass  # the receiver is down: the pull recovers the payment

    threading.Thread(target=send, daemon=True).start()
    return "enviado"


PIX_SANDBOX = PixSandbox(deliver=_post_in_background)


@csrf_exempt
def api(request, path):
    headers = {key.lower(): value for key, value in request.headers.items()}
    status, response_headers, body = PIX_SANDBOX.handle(
        request.method, "/" + path, {k: request.GET.getlist(k) for k in request.GET}, headers, request.body
    )
    response = HttpResponse(body, status=status)
    for name, value in response_headers.items():
        response[name] = value
    return response


def account_name(tenant) -> str | None:
    """The tenant's sandbox PSP account: only its own (client_id sandbox-<its slug>)."""
    if tenant is None or not provider.is_configured(tenant):
        return None
    return tenant.slug if tenant.setting(CLIENT_ID) == CLIENT_PREFIX + tenant.slug else None


def _name(request) -> str:
    if not is_back_office(request.user):
        raise PermissionDenied
    name = account_name(user_tenant(request.user))
    if name is None:
        raise PermissionDenied
    return name


@login_required
def page(request):
    name = _name(request)
    account = PIX_SANDBOX.account(name)
    context = {
        "account": account,
        "charges": sorted(account.charges.values(), key=lambda c: c["calendario"].get("criacao", ""), reverse=True),
        "boletos": list(account.boletos.values()),
        "title": "Sandbox PSP (API Pix)",
    }
    return render(request, "sandbox/pix.html", context)


@login_required
@require_POST
def pay(request):
    name = _name(request)
    txid = request.POST.get("txid", "")
    account = PIX_SANDBOX.account(name)
    try:
        if request.POST.get("kind") == "boleto":
            PIX_SANDBOX.pay_boleto(name, txid)
            messages.success(request, "Boleto pago: baixe o retorno CNAB e importe-o em Pagamentos recebidos.")
        else:
            lose = request.POST.get("lose_webhook") == "1"
            PIX_SANDBOX.pay(name, txid, lose_webhook=lose)
            if lose or not account.webhooks:
                messages.warning(request, "PIX pago sem webhook: a consulta de PIX recebidos o encontra em minutos.")
            else:
                messages.success(request, "PIX pago: o webhook foi enviado à empresa.")
    except (KeyError, ValueError):
        messages.error(request, "Cobrança inexistente ou já paga.")
    return redirect("sandbox_psp")


@login_required
def cnab(request):
    name = _name(request)
    response = HttpResponse(PIX_SANDBOX.cnab_retorno(name), content_type="text/plain; charset=ascii")
    response["Content-Disposition"] = 'attachment; filename="retorno-sandbox.ret"'
    return response
