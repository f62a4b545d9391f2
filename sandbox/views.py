"""The sandbox 3C Plus mounted in the app (DIALER_SANDBOX): the API and a page to see what arrived."""

import datetime

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
from dialer import tenant_api
from dialer.client import dial_number
from dialer.settings_schema import threecplus_config
from sandbox.fake import AGENT_IDS, MANAGER_PREFIX, Sandbox
from tenants.roles import is_back_office, user_tenant
from tenants.secrets import SecretError


class DatabaseStore:
    """The sandbox's companies in the database, so a restart of the demo keeps its lists and contacts."""

    def load(self, name):
        from sandbox.models import SandboxAccount

        return SandboxAccount.objects.filter(name=name).values_list("state", flat=True).first()

    def save(self, name, state):
        from sandbox.models import SandboxAccount

        SandboxAccount.objects.update_or_create(name=name, defaults={"state": state})

    def clear(self):
        from sandbox.models import SandboxAccount

        SandboxAccount.objects.all().delete()


# One sandbox per web process: the demo's server, its worker and the operators all reach it over HTTP.
SANDBOX = Sandbox(store=DatabaseStore())


@csrf_exempt
def api(request, path):
    headers = {key.lower(): value for key, value in request.headers.items()}
    status, response_headers, body = SANDBOX.handle(
        request.method, path, {k: request.GET.getlist(k) for k in request.GET}, headers, request.body
    )
    response = HttpResponse(body, status=status)
    for name, value in response_headers.items():
        response[name] = value
    return response


def account_name(tenant) -> str | None:
    """The sandbox company of the tenant: its token must name the tenant itself (sandbox-<its slug>).

    The sandbox opens a company for any token, so another tenant's sandbox-<slug> would otherwise show
    that tenant's lists on this page and send simulated calls to its webhook.
    """
    if tenant is None or not tenant_api.is_configured(tenant):
        return None
    try:
        config = threecplus_config(tenant.stored_settings)
    except SecretError:
        return None
    if config is None or not config.token.startswith(MANAGER_PREFIX):
        return None
    name = config.token.removeprefix("sandbox-agent-").removeprefix(MANAGER_PREFIX)
    return name if name == tenant.slug else None


def visible_accounts(request):
    """Superusers see every sandbox company; a tenant's back office sees the one its token opens."""
    if request.user.is_superuser:
        return list(SANDBOX.accounts.values())
    name = account_name(user_tenant(request.user))
    return [SANDBOX.account(name)] if name else []


def tenants_of(name: str) -> list:
    """The tenants whose 3C Plus webhook this sandbox company calls (a real company has one configured)."""
    tenants = tenant_api.configured_tenants().filter(slug=name)
    return [t for t in tenants if account_name(t) == name]


def _deliver(request, name: str, body: dict, success: str, failure: str):
    """POST the event to each tenant webhook of the company, over HTTP as 3C Plus does; say how it went."""
    tenants = tenants_of(name)
    problems = [] if tenants else ["nenhuma empresa usa esta conta do sandbox"]
    for tenant in tenants:
        url = request.build_absolute_uri(reverse("threecplus_webhook", args=[tenant.webhook_secret]))
        try:
            response = httpx.post(url, json=body, timeout=5)
        except httpx.HTTPError as error:
            problems.append(f"{tenant.name}: {type(error).__name__}")
            continue
        if response.status_code >= 400:
            problems.append(f"{tenant.name}: HTTP {response.status_code}")
    if problems:
        messages.error(request, failure + "; ".join(problems))
    else:
        messages.success(request, success)
    return redirect("sandbox")


def _account_for_post(request):
    name = request.POST.get("account", "")
    if name not in {account.name for account in visible_accounts(request)}:
        raise PermissionDenied
    return SANDBOX.account(name)


@login_required
@require_POST
def simulate_call(request):
    """Simular ligação: a contact (or any phone) connects to an agent; the tenant's webhook hears of it."""
    if not is_back_office(request.user):
        raise PermissionDenied
    account = _account_for_post(request)
    agent_id = request.POST.get("agent_id", "")
    if agent_id not in AGENT_IDS:
        messages.error(request, "Escolha um agente do sandbox (1001 a 1010).")
        return redirect("sandbox")
    identifier = request.POST.get("identifier", "").strip()
    typed_phone = request.POST.get("phone", "").strip()
    phone = ""
    if typed_phone:
        e164 = try_parse_phone(typed_phone)
        if e164 is None:
            messages.error(request, "Telefone inválido: use DDD e número, como (11) 98765-4321.")
            return redirect("sandbox")
        phone = dial_number(e164)
    contact = SANDBOX.find_contact(account, identifier=identifier, phone=phone)
    if contact is None and identifier:
        messages.error(request, f"O cliente {identifier} não está em nenhuma lista do sandbox: envie-o ao discador.")
        return redirect("sandbox")
    if not phone:
        phone = str(contact["phone"]) if contact else ""
    if not phone:
        messages.error(request, "Escolha um contato enviado ao discador ou digite um telefone.")
        return redirect("sandbox")
    body = SANDBOX.connect_call(account, agent_id=agent_id, phone=phone, contact=contact)
    SANDBOX.save(account)
    call_id = body["call-was-connected"]["call"]["id"]
    return _deliver(
        request,
        account.name,
        body,
        f"Ligação {call_id} conectada ao agente {agent_id}.",
        "Ligação simulada, mas o webhook falhou: ",
    )


@login_required
@require_POST
def hang_up(request):
    if not is_back_office(request.user):
        raise PermissionDenied
    account = _account_for_post(request)
    api_root = request.build_absolute_uri(reverse("sandbox_api", args=["calls"])).removesuffix("/calls")
    body = SANDBOX.hang_up(account, request.POST.get("call_id", ""), api_root=api_root)
    SANDBOX.save(account)
    if body is None:
        messages.error(request, "Ligação não encontrada ou já encerrada.")
        return redirect("sandbox")
    return _deliver(
        request,
        account.name,
        body,
        "Ligação encerrada: histórico enviado ao webhook.",
        "Ligação encerrada, mas o webhook falhou: ",
    )


@login_required
@require_POST
def advance_clock(request):
    """Avançar relógio: the sandbox's dialler calls who is on its active lists, each call's history to the webhook."""
    if not is_back_office(request.user):
        raise PermissionDenied
    account = _account_for_post(request)
    minutes = request.POST.get("minutes", "").strip()
    if not (minutes.isascii() and minutes.isdigit() and 1 <= int(minutes) <= 1440):
        messages.error(request, "Informe de 1 a 1440 minutos.")
        return redirect("sandbox")
    bodies = SANDBOX.advance(account.name, SANDBOX.now() + datetime.timedelta(minutes=int(minutes)))
    failed = 0
    for tenant in tenants_of(account.name):
        url = request.build_absolute_uri(reverse("threecplus_webhook", args=[tenant.webhook_secret]))
        for _at, body in bodies:
            try:
                failed += httpx.post(url, json=body, timeout=5).status_code >= 400
            except httpx.HTTPError:
                failed += 1
    if failed:
        messages.error(request, f"Relógio avançado; {failed} evento(s) não chegaram ao webhook.")
    else:
        messages.success(request, f"Relógio avançado {minutes} minutos: {len(bodies)} evento(s) enviados ao webhook.")
    return redirect("sandbox")


@login_required
def page(request):
    if not is_back_office(request.user):
        raise PermissionDenied
    accounts = []
    for account in visible_accounts(request):
        names = {q["id"]: q["name"] for ql in account.qualification_lists.values() for q in ql["qualifications"]}
        lists = [
            {
                **mailing_list,
                "campaign": account.campaigns.get(mailing_list["campaign_id"], {}).get("name", "?"),
                "received": account.counts.get(mailing_list["id"], 0),
                "duplicates": account.duplicates.get(mailing_list["id"], 0),
                "contacts": account.contacts.get(mailing_list["id"], [])[-200:],
            }
            for mailing_list in sorted(account.lists.values(), key=lambda m: -m["id"])
        ]
        accounts.append(
            {
                "name": account.name,
                "campaigns": list(account.campaigns.values()),
                "lists": lists,
                "qualifications": [
                    {**received, "name": names.get(received["qualification_id"], "")}
                    for received in account.qualifications_received[-50:][::-1]
                ],
                "calls": [record for record in reversed(list(account.calls.values()))][:20],
                "contacts": _contacts_to_call(account),
                "dialled": account.dialled[-30:][::-1],
            }
        )
    context = {
        **admin.site.each_context(request),
        "accounts": accounts,
        "agents": sorted(AGENT_IDS),
        "clock": SANDBOX.now(),
        "title": "Sandbox 3C Plus",
    }
    return render(request, "sandbox/sandbox.html", context)


def _contacts_to_call(account) -> list[dict]:
    """One choice per client sent to the account's lists, newest first (at most 200)."""
    seen, choices = set(), []
    for list_id in sorted(account.contacts, reverse=True):
        for contact in reversed(account.contacts[list_id]):
            identifier = str(contact.get("identifier") or "")
            if identifier and identifier not in seen:
                seen.add(identifier)
                choices.append({"identifier": identifier, "name": (contact.get("data") or {}).get("nome", "")})
            if len(choices) >= 200:
                return choices
    return choices
