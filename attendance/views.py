from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.models import Client
from tenants.roles import user_tenant


@login_required
def home(request):
    """The operator's start page: the clients assigned to them."""
    tenant = user_tenant(request.user)
    clients = (
        Client.objects.for_tenant(tenant)
        .filter(assigned_operator=request.user)
        .select_related("creditor")
        .order_by("name")[:100]
        if tenant
        else Client.objects.none()
    )
    return render(request, "attendance/home.html", workspace_context(request, clients=clients, tenant=tenant))


def workspace_context(request, **extra):
    """The admin site's context (colours, titles) so the workspace looks like the admin."""
    return {**admin.site.each_context(request), **extra}
