from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from messaging import cadence
from messaging.models import OptOut, Step
from tenants.admin_base import ReadOnlyMixin, TenantScopedAdmin
from tenants.roles import Role, user_tenant


@admin.register(Step)
class StepAdmin(TenantScopedAdmin):
    """The régua per creditor; a supervisor pauses or resumes a step; "Prévia de amanhã" before activating."""

    list_display = (
        "name",
        "creditor",
        "offset_days",
        "anchor",
        "channel",
        "active",
        "paused",
        "sent",
        "delivered",
        "read",
    )
    list_filter = ("creditor", "channel", "active", "paused")
    edit_roles = frozenset({Role.ADMIN, Role.SUPERVISOR})
    actions = ("pause", "resume")
    change_list_template = "admin/messaging/step_change_list.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sent=Count("sends", filter=Q(sends__message__status__in=["enviada", "entregue", "lida"])),
                n_delivered=Count("sends", filter=Q(sends__message__status__in=["entregue", "lida"])),
                n_read=Count("sends", filter=Q(sends__message__status="lida")),
            )
        )

    @display(description=_("enviadas"), ordering="n_sent")
    def sent(self, obj):
        return obj.n_sent

    @display(description=_("entregues"), ordering="n_delivered")
    def delivered(self, obj):
        return obj.n_delivered

    @display(description=_("lidas"), ordering="n_read")
    def read(self, obj):
        return obj.n_read

    @action(description=_("Pausar passos selecionados"))
    def pause(self, request, queryset):
        changed = queryset.update(paused=True, paused_by=request.user)
        self.message_user(request, _("%(n)s passo(s) pausado(s).") % {"n": changed}, messages.SUCCESS)

    @action(description=_("Retomar passos selecionados"))
    def resume(self, request, queryset):
        changed = queryset.update(paused=False, paused_by=None)
        self.message_user(request, _("%(n)s passo(s) retomado(s).") % {"n": changed}, messages.SUCCESS)

    def get_urls(self):
        return [
            path("previa/", self.admin_site.admin_view(self.preview_view), name="messaging_step_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        tenant = user_tenant(request.user)
        rows = cadence.preview(tenant) if tenant is not None else []
        context = {
            **self.admin_site.each_context(request),
            "rows": rows,
            "opts": self.opts,
            "title": _("Prévia da régua de amanhã"),
        }
        return TemplateResponse(request, "admin/messaging/step_preview.html", context)


@admin.register(OptOut)
class OptOutAdmin(ReadOnlyMixin, TenantScopedAdmin):
    list_display = ("client", "channel", "reason", "created_at")
    list_filter = ("channel",)
