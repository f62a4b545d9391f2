from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from core.models import ClientStatus
from messaging import cadence
from messaging.models import OptOut, Step
from tenants.admin_base import ReadOnlyMixin, TenantRelatedFilter, TenantScopedAdmin
from tenants.roles import Role, user_tenant


class StepForm(forms.ModelForm):
    statuses = forms.MultipleChoiceField(
        label=_("Situações"),
        choices=ClientStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Vazio: em aberto, em negociação e sem contato."),
    )

    class Meta:
        model = Step
        fields = "__all__"

    def clean(self):
        data = super().clean()
        low, high = data.get("min_balance"), data.get("max_balance")
        if low is not None and high is not None and low > high:
            self.add_error("max_balance", _("O saldo máximo é menor que o mínimo."))
        low, high = data.get("min_days_overdue"), data.get("max_days_overdue")
        if low is not None and high is not None and low > high:
            self.add_error("max_days_overdue", _("O atraso máximo é menor que o mínimo."))
        if data.get("channel") == "whatsapp" and not data.get("template_name"):
            self.add_error("template_name", _("Escolha o modelo aprovado do WhatsApp."))
        if data.get("channel") in ("email", "sms") and not (data.get("text") or "").strip():
            self.add_error("text", _("Escreva o texto do e-mail ou do SMS."))
        offset = data.get("offset_days")
        if offset is not None and not -365 <= offset <= 365:
            self.add_error("offset_days", _("Use de -365 a 365 dias."))
        return data


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
    list_filter = (("creditor", TenantRelatedFilter), "channel", "active", "paused")
    list_filter_submit = True
    edit_roles = frozenset({Role.ADMIN, Role.SUPERVISOR})
    form = StepForm
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
