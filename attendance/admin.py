from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.admin import ImportExportModelAdmin
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RangeDateTimeFilter
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display

from attendance import services
from attendance.models import (
    Agreement,
    AgreementInstallment,
    CallDisposition,
    ClientAccessLog,
    DispositionType,
    Message,
)
from core.formats import WALLET_FORMATS
from core.models import Client
from core.parsing import format_brl
from tenants.admin_base import ReadOnlyMixin, TenantExportMixin, TenantRelatedFilter, TenantScopedAdmin
from tenants.models import Role
from tenants.roles import is_tenant_admin, user_tenant


@admin.register(DispositionType)
class DispositionTypeAdmin(TenantScopedAdmin):
    """The five global tabulações are read-only; a tenant adds its own."""

    list_display = ("name", "behavior", "order", "active", "display_scope")
    edit_roles = frozenset({Role.ADMIN})

    def get_queryset(self, request):
        queryset = DispositionType.objects.all()
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(tenant__isnull=True) | Q(tenant=user_tenant(request.user)))

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.tenant_id is None and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission

    @display(description=_("escopo"))
    def display_scope(self, obj):
        return _("Todas as empresas") if obj.tenant_id is None else obj.tenant


@admin.register(CallDisposition)
class CallDispositionAdmin(ReadOnlyMixin, TenantScopedAdmin):
    """Tabulações are the operators' record; here they are read, and failed 3C Plus write-backs retried."""

    list_display = (
        "created_at",
        "client",
        "type",
        "operator",
        "display_phone",
        "callback_at",
        "call_id",
        "display_qualification",
    )
    list_filter = (
        ("type", TenantRelatedFilter),
        ("qualification_status", ChoicesDropdownFilter),
        ("created_at", RangeDateTimeFilter),
    )
    actions = ["retry_qualification"]
    list_filter_submit = True
    list_select_related = ("client", "type", "operator", "phone")
    search_fields = ("client__name", "client__external_id", "call_id")
    date_hierarchy = None
    show_full_result_count = False

    @display(description=_("telefone"))
    def display_phone(self, obj):
        return obj.phone.formatted if obj.phone_id else "—"

    @display(
        description=_("qualificação no 3C Plus"),
        ordering="qualification_status",
        label={"enviada": "success", "pendente": "info", "falhou": "danger"},
    )
    def display_qualification(self, obj):
        if not obj.qualification_status:
            return "", "—"
        label = obj.get_qualification_status_display()
        if obj.qualification_error:
            label = f"{label}: {obj.qualification_error}"
        return obj.qualification_status, label

    @action(description=_("Reenviar qualificação ao 3C Plus"))
    def retry_qualification(self, request, queryset):
        tenant = user_tenant(request.user)
        if tenant is None:
            messages.error(request, _("Reenvie como usuário de uma empresa."))
            return
        count = services.retry_qualifications(tenant, queryset)
        if count:
            messages.success(request, _("%(n)d qualificação(ões) de volta à fila de envio.") % {"n": count})
        else:
            messages.warning(request, _("Nenhuma das tabulações selecionadas tem qualificação com falha."))


class InstallmentInline(TabularInline):
    model = AgreementInstallment
    extra = 0
    can_delete = False
    readonly_fields = ("number", "due_date", "amount")

    def has_add_permission(self, request, obj=None):
        return False


class AgreementStatusFilter(ChoicesDropdownFilter):
    pass


@admin.register(Agreement)
class AgreementAdmin(TenantScopedAdmin):
    """Acordos: supervisors and tenant admins approve, reject and cancel; nobody edits the figures."""

    list_display = (
        "id",
        "client",
        "creditor",
        "display_status",
        "display_total",
        "installments_count",
        "operator",
        "created_at",
    )
    list_filter = (
        ("status", AgreementStatusFilter),
        ("creditor", TenantRelatedFilter),
        ("operator", TenantRelatedFilter),
        ("created_at", RangeDateTimeFilter),
    )
    list_filter_submit = True
    list_select_related = ("client", "creditor", "operator")
    search_fields = ("client__name", "client__external_id", "id")
    inlines = [InstallmentInline]
    actions = ["approve", "reject", "cancel"]
    show_full_result_count = False
    readonly_fields = (
        "client",
        "creditor",
        "operator",
        "status",
        "principal",
        "interest",
        "fine",
        "discount_percent",
        "discount_amount",
        "total",
        "entry_amount",
        "installments_count",
        "first_due_date",
        "display_reasons",
        "decided_by",
        "decided_at",
        "call_id",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("client", "creditor", "operator", "status", "call_id", "created_at")}),
        (
            _("Valores"),
            {
                "fields": (
                    ("principal", "interest", "fine"),
                    ("discount_percent", "discount_amount"),
                    "total",
                    ("entry_amount", "installments_count", "first_due_date"),
                )
            },
        ),
        (_("Aprovação"), {"fields": ("display_reasons", "decided_by", "decided_at", "decision_note")}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(
        description=_("situação"),
        ordering="status",
        label={"ativo": "success", "aguardando_aprovacao": "warning", "rejeitado": "danger", "cancelado": "danger"},
    )
    def display_status(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("total"), ordering="total")
    def display_total(self, obj):
        return format_brl(obj.total)

    @display(description=_("fora das regras"))
    def display_reasons(self, obj):
        return "; ".join(obj.approval_reasons) or "—"

    def _decide(self, request, queryset, service, done_message):
        tenant = user_tenant(request.user)
        done = 0
        for agreement in queryset:
            try:
                service(tenant or agreement.tenant, request.user, agreement)
                done += 1
            except ValidationError as error:
                messages.error(request, f"#{agreement.pk}: {' '.join(error.messages)}")
        if done:
            messages.success(request, done_message % {"n": done})

    @action(description=_("Aprovar acordos selecionados"))
    def approve(self, request, queryset):
        self._decide(request, queryset, services.approve_agreement, _("%(n)d acordo(s) aprovado(s)."))

    @action(description=_("Rejeitar acordos selecionados"))
    def reject(self, request, queryset):
        self._decide(request, queryset, services.reject_agreement, _("%(n)d acordo(s) rejeitado(s)."))

    @action(description=_("Cancelar acordos selecionados (devolve os títulos)"))
    def cancel(self, request, queryset):
        self._decide(request, queryset, services.cancel_agreement, _("%(n)d acordo(s) cancelado(s)."))


class MessageResource(resources.ModelResource):
    """WhatsApp history import: external_id of the client, direction, text, date and status."""

    external_id = fields.Field(column_name="external_id", attribute="client__external_id")

    class Meta:
        model = Message
        fields = ("external_id", "direction", "body", "sent_at", "status", "phone")
        import_id_fields = ()
        use_transactions = True

    def __init__(self, tenant=None, **kwargs):
        super().__init__(**kwargs)
        self.tenant = tenant

    def get_queryset(self):
        return Message.objects.filter(tenant=self.tenant).select_related("client")

    def before_import_row(self, row, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa."))
        external_id = str(row.get("external_id") or "").strip()
        client = Client.objects.filter(tenant=self.tenant, external_id=external_id).only("pk").first()
        if client is None:
            raise ValidationError(_("Cliente não encontrado: %(id)s.") % {"id": external_id})
        row["_client_id"] = client.pk

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        instance.tenant = self.tenant
        instance.client_id = row["_client_id"]


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin, ImportExportModelAdmin):
    resource_classes = [MessageResource]
    import_form_class = ImportForm
    export_form_class = ExportForm
    import_formats = WALLET_FORMATS
    export_formats = WALLET_FORMATS
    list_display = ("sent_at", "client", "direction", "status", "body")
    list_filter = (("direction", ChoicesDropdownFilter), ("status", ChoicesDropdownFilter))
    list_filter_submit = True
    list_select_related = ("client",)
    search_fields = ("client__name", "client__external_id", "body")
    raw_id_fields = ("client", "author")
    show_full_result_count = False

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user)}


class ClientAccessLogResource(resources.ModelResource):
    accessed_at = fields.Field(column_name="quando", attribute="accessed_at")
    user = fields.Field(column_name="usuario", attribute="user__username")
    client_id = fields.Field(column_name="cliente_id", attribute="client_id")
    client = fields.Field(column_name="cliente", attribute="client__name")
    call_id = fields.Field(column_name="ligacao", attribute="call_id")

    class Meta:
        model = ClientAccessLog
        fields = ("accessed_at", "user", "client_id", "client", "call_id")


@admin.register(ClientAccessLog)
class ClientAccessLogAdmin(ReadOnlyMixin, TenantExportMixin, TenantScopedAdmin):
    """LGPD: who opened which client's page. Tenant admins only; filterable and exportable."""

    view_roles = frozenset({Role.ADMIN})
    edit_roles = frozenset()
    resource_classes = [ClientAccessLogResource]
    export_form_class = ExportForm
    export_formats = WALLET_FORMATS
    list_display = ("accessed_at", "user", "client", "call_id")
    list_filter = (("accessed_at", RangeDateTimeFilter), ("user", TenantRelatedFilter))
    list_filter_submit = True
    list_select_related = ("user", "client")
    search_fields = ("client__name", "client__external_id", "user__username")
    show_full_result_count = False

    def has_module_permission(self, request):
        return is_tenant_admin(request.user) and request.user.is_staff
