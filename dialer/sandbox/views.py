"""The sandbox 3C Plus mounted in the app (DIALER_SANDBOX): the API and a page to see what arrived."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from dialer.sandbox import MANAGER_PREFIX, Sandbox
from tenants.roles import is_back_office, user_tenant
from tenants.secrets import SecretError
from tenants.settings_schema import API_KEY, threecplus_config

# One sandbox per web process: the demo's server, its worker and the operators all reach it over HTTP.
SANDBOX = Sandbox()


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


def visible_accounts(request):
    """Superusers see every sandbox company; a tenant's back office sees the one its token opens."""
    if request.user.is_superuser:
        return list(SANDBOX.accounts.values())
    tenant = user_tenant(request.user)
    if tenant is None or not (tenant.settings or {}).get(API_KEY):
        return []
    try:
        config = threecplus_config(tenant.settings)
    except SecretError:
        return []
    if config is None or not config.token.startswith(MANAGER_PREFIX):
        return []
    name = config.token.removeprefix("sandbox-agent-").removeprefix(MANAGER_PREFIX)
    return [SANDBOX.account(name)]


@login_required
def page(request):
    if not is_back_office(request.user):
        raise PermissionDenied
    accounts = []
    for account in visible_accounts(request):
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
                "qualifications": account.qualifications_received[-50:][::-1],
            }
        )
    context = {**admin.site.each_context(request), "accounts": accounts, "title": "Sandbox 3C Plus"}
    return render(request, "dialer/sandbox.html", context)
