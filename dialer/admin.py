import csv
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from import_export import fields as import_fields
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter
from unfold.decorators import action, display

from common.formats import WALLET_FORMATS
from common.parsing import check_date_window, format_brl, has_control_characters, parse_id
from common.spreadsheets import neutralize_row
from core.models import Client
from dialer import calling_windows, eligibility, exports, removals, rule_text, selectors, tenant_api, webhooks
from dialer.errors import DialerError
from dialer.exports.selection import CarteiraSelection
from dialer.forms import QualificationActionsForm, QualificationMappingForm, SendToDialerForm
from dialer.models import (
    CallingWindowOverride,
    DialerExport,
    DialerExportItem,
    DialerRemoval,
    MunicipalHoliday,
    Qualification,
    QualificationMapping,
    QualifiedAction,
    WebhookDelivery,
)
from dialer.qualifications import (
    actions_for,
    save_actions,
    save_mappings,
    sync_qualifications,
    writes_qualifications,
)
from dialer.settings_schema import CAMPAIGN
from dialer.timeline import removal_numbers
from dialer.types import DispositionBehavior
from tenants import audit
from tenants.admin_base import (
    BoundedImportForm,
    PartialImportMixin,
    ReadOnlyMixin,
    TenantRelatedFilter,
    TenantScopedAdmin,
)
from tenants.models import Role
from tenants.roles import is_back_office, user_role, user_tenant
from tenants.services import plaintext_secrets


class SentToDialerFilter(DropdownFilter):
    """The dialer's box of the Carteira; what it selects is selectors.sent_to_dialer_q, which the worker replays."""

    title = _("enviado ao discador")
    parameter_name = selectors.SENT_TO_DIALER

    def lookups(self, request, model_admin):
        return [(selectors.NEVER_SENT, _("Nunca")), ("24h", _("Últimas 24 h")), ("7d", _("Últimos 7 dias"))]

    def queryset(self, request, queryset):
        return queryset.filter(selectors.sent_to_dialer_q(self.value()))


@action(description=_("Enviar para discador"))
def send_to_dialer(modeladmin, request, queryset):
    """Confirmation page with the preview; confirming queues the export at once (the worker freezes the
    selection, replayed from the Carteira's filters as this user sees them, then sends it)."""
    if not is_back_office(request.user):
        raise PermissionDenied
    tenant = user_tenant(request.user)
    if tenant is None:
        messages.error(request, _("Envie ao discador como usuário de uma empresa."))
        return None
    settings_url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    try:
        campaigns = tenant_api.campaigns(tenant)
    except DialerError as error:
        link = format_html('<a class="underline" href="{}">{}</a>', settings_url, _("configurações do 3C Plus"))
        messages.error(request, format_html("{} {} {}", error.message, _("Confira as"), link))
        return None
    if not campaigns:
        messages.error(request, _("Nenhuma campanha encontrada no 3C Plus."))
        return None
    default = tenant.setting(CAMPAIGN)
    default = default if default in {c["id"] for c in campaigns} else campaigns[0]["id"]
    confirming = request.POST.get("confirm") == "1"
    bound = "campaign" in request.POST
    form = SendToDialerForm(
        request.POST if bound else None,
        campaigns=campaigns,
        initial={"campaign": default, "list_name": exports.default_list_name()},
    )
    campaign_id = default
    if bound and form.is_valid():
        campaign_id = form.cleaned_data["campaign"]
    if confirming and form.is_valid():
        campaign = form.campaigns[campaign_id]
        ids = None
        if request.POST.get("select_across") != "1":
            ids = [int(i) for i in request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)]
        export = exports.queue_export(
            tenant,
            request.user,
            selection=CarteiraSelection.from_query(request.GET, ids=ids).to_json(),
            campaign_id=campaign_id,
            campaign_name=campaign["name"],
            list_name=form.cleaned_data["list_name"],
            list_weight=form.cleaned_data["list_weight"],
            submission_token=form.cleaned_data["token"],
        )
        messages.success(request, _("Envio #%(id)s na fila.") % {"id": export.pk})
        return redirect(reverse("admin:dialer_dialerexport_change", args=[export.pk]))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Enviar para discador"),
        "opts": modeladmin.model._meta,
        "form": form,
        "preview": eligibility.preview(queryset, tenant, campaign_id),
        "calling_rules": rule_text.selection_rules(queryset, tenant),
        "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/dialer/send_to_dialer.html", context)


# The Carteira (core's ClientAdmin) gets the dialer's action and filter through the admin site: core stands below
# the dialer and never names it, and the dialer reads the registered admin instead of importing core's admin module.
carteira = admin.site.get_model_admin(Client)
carteira.actions = [*(carteira.actions or []), send_to_dialer]
carteira.list_filter = (*carteira.list_filter, SentToDialerFilter)


@admin.register(DialerExport)
class DialerExportAdmin(ReadOnlyMixin, TenantScopedAdmin):
    change_form_template = "admin/dialer/dialerexport/change_form.html"
    list_display = (
        "id",
        "created_at",
        "list_name",
        "campaign_name",
        "display_status",
        "display_progress",
        "requested_by",
    )
    list_filter = (("status", ChoicesDropdownFilter),)
    list_filter_submit = True
    list_select_related = ("requested_by",)
    search_fields = ("list_name", "campaign_name")
    actions = ["retry_failures"]
    readonly_fields = (
        "progress_bar",
        "status",
        "campaign_name",
        "campaign_id",
        "list_name",
        "list_id",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "selected_count",
        "to_send_count",
        "display_skipped",
        "phones_count",
        "display_balance",
        "sent_count",
        "failed_count",
        "sent_phones",
        "error_summary",
        "links",
    )
    fieldsets = (
        (None, {"fields": ("progress_bar", "links")}),
        (
            _("Envio"),
            {
                "fields": (
                    ("campaign_name", "campaign_id"),
                    "list_name",
                    ("requested_by", "created_at"),
                )
            },
        ),
        (
            _("Números"),
            {
                "fields": (
                    ("selected_count", "to_send_count"),
                    "display_skipped",
                    ("phones_count", "display_balance"),
                )
            },
        ),
    )

    @display(
        description=_("situação"),
        label={
            "preparando": "info",
            "na_fila": "info",
            "enviando": "info",
            "pausado": "warning",
            "concluido": "success",
            "parcial": "warning",
            "falhou": "danger",
        },
    )
    def display_status(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("progresso"))
    def display_progress(self, obj):
        if obj.status == DialerExport.Status.PREPARING:
            return _("preparando: %(done)s/%(total)s (%(percent)s%%)") % {
                "done": obj.prepare_done,
                "total": obj.prepare_total,
                "percent": obj.prepare_percent,
            }
        return f"{obj.processed}/{obj.to_send_count} ({obj.progress_percent}%)"

    @display(description=_("ignorados"))
    def display_skipped(self, obj):
        return "; ".join(f"{eligibility.reason_label(k)}: {v}" for k, v in obj.skipped.items()) or "—"

    @display(description=_("saldo em aberto"))
    def display_balance(self, obj):
        return format_brl(obj.open_balance)

    @display(description=_("progresso"))
    def progress_bar(self, obj):
        return render_to_string("admin/dialer/_export_progress.html", {"export": obj})

    @display(description=_("detalhes"))
    def links(self, obj):
        return render_to_string("admin/dialer/dialerexport/_links.html", {"export": obj})

    def get_urls(self):
        return [
            path(
                "<int:pk>/progresso/",
                self.admin_site.admin_view(self.progress_view),
                name="dialer_dialerexport_progress",
            ),
            path(
                "<int:pk>/continuar/",
                self.admin_site.admin_view(self.resume_view),
                name="dialer_dialerexport_resume",
            ),
            path(
                "<int:pk>/falhas.csv",
                self.admin_site.admin_view(self.failures_view),
                name="dialer_dialerexport_failures",
            ),
            *super().get_urls(),
        ]

    def _export_or_404(self, request, pk):
        export = self.get_queryset(request).filter(pk=pk).first()
        if export is None or not self.has_view_permission(request, export):
            raise Http404
        return export

    def can_resume(self, request, export) -> bool:
        """ "Continuar envio" is for the admin or a supervisor of the export's own company."""
        tenant = user_tenant(request.user)
        return (
            tenant is not None
            and export.tenant_id == tenant.pk
            and user_role(request.user) in (Role.ADMIN, Role.SUPERVISOR)
            and export.status in exports.RESUMABLE
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        export_id = parse_id(object_id)
        export = self.get_queryset(request).filter(pk=export_id).first() if export_id is not None else None
        extra_context = {**(extra_context or {}), "can_resume": bool(export and self.can_resume(request, export))}
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(require_POST)
    def resume_view(self, request, pk):
        export = self._export_or_404(request, pk)
        if not self.can_resume(request, export):
            raise PermissionDenied
        exports.resume_export(export)
        messages.success(request, _("Envio #%(id)s de volta na fila: continua de onde parou.") % {"id": export.pk})
        return redirect(reverse("admin:dialer_dialerexport_change", args=[export.pk]))

    def progress_view(self, request, pk):
        export = self._export_or_404(request, pk)
        response = TemplateResponse(request, "admin/dialer/_export_progress.html", {"export": export})
        if request.GET.get("preparando") and export.selection_frozen:
            # The page was drawn before the selection was frozen: its counts outside the fragment were partial.
            # Once frozen, the whole page is drawn again.
            response["HX-Refresh"] = "true"
        return response

    def failures_view(self, request, pk):
        export = self._export_or_404(request, pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="envio-{export.pk}-falhas.csv"'
        writer = csv.writer(response, delimiter=";")
        writer.writerow(["cliente_id", "external_id", "nome", "erro"])
        failed = (
            DialerExportItem.objects.filter(export=export, status=DialerExportItem.Status.FAILED)
            .select_related("client")
            .order_by("client_id")
        )
        for item in failed.iterator(chunk_size=2000):
            writer.writerow(neutralize_row([item.client_id, item.client.external_id, item.client.name, item.error]))
        return response

    @action(description=_("Reenviar falhas"))
    def retry_failures(self, request, queryset):
        for export in queryset:
            if not export.is_finished or not export.failed_count:
                messages.warning(request, _("Envio #%(id)s não tem falhas a reenviar.") % {"id": export.pk})
                continue
            exports.retry_failures(export)
            messages.success(request, _("Falhas do envio #%(id)s de volta na fila.") % {"id": export.pk})


@admin.register(DialerExportItem)
class DialerExportItemAdmin(ReadOnlyMixin, TenantScopedAdmin):
    list_display = ("export", "client", "status", "display_phones", "error", "sent_at")
    list_filter = (("status", ChoicesDropdownFilter), ("export", TenantRelatedFilter))
    list_filter_submit = True
    list_select_related = ("client", "export")
    search_fields = ("client__name", "client__external_id")
    show_full_result_count = False

    def has_module_permission(self, request):
        return False  # reached from an export's page

    @display(description=_("telefones"))
    def display_phones(self, obj):
        return ", ".join(obj.phones)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, TenantScopedAdmin):
    """Entregas do webhook: what 3C Plus really sent (credentials hidden) and what was made of it."""

    view_roles = frozenset({Role.ADMIN})
    edit_roles = frozenset()
    list_display = ("received_at", "event", "display_result", "detail", "client", "size")
    list_filter = (("result", ChoicesDropdownFilter),)
    list_filter_submit = True
    list_select_related = ("client",)
    search_fields = ("event",)
    show_full_result_count = False
    fields = ("received_at", "event", "result", "detail", "client", "call_event", "size", "display_body")
    readonly_fields = fields

    @display(
        description=_("resultado"),
        label={
            WebhookDelivery.Result.PROCESSED.label: "success",
            WebhookDelivery.Result.REPEATED.label: "info",
            WebhookDelivery.Result.UNUSED.label: "warning",
            WebhookDelivery.Result.INVALID.label: "danger",
        },
    )
    def display_result(self, obj):
        return obj.get_result_display()

    @display(description=_("corpo recebido (tokens ocultos)"))
    def display_body(self, obj):
        # Hidden again on display, with every secret of the tenant: rows kept before a rule existed, a token the
        # receiver could not know (the 3C Plus ones), a body cut at the size limit that is no longer JSON.
        body = _pretty(obj.body, plaintext_secrets(obj.tenant))
        return format_html('<pre class="whitespace-pre-wrap break-all text-xs">{}</pre>', body)


def _pretty(body: str, secrets: list[str]) -> str:
    try:
        return json.dumps(webhooks.redact(json.loads(body), *secrets), ensure_ascii=False, indent=2)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the reader goes
        return webhooks.redact_text(body, *secrets)


@admin.register(Qualification)
class QualificationAdmin(TenantScopedAdmin):
    """Tabulação → qualificação: one page with the synced 3C Plus catalogue and the mapping per list."""

    view_roles = frozenset({Role.ADMIN})
    edit_roles = frozenset({Role.ADMIN})

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "sincronizar/",
                self.admin_site.admin_view(self.sync_view),
                name="dialer_qualification_sync",
            ),
            path(
                "acoes/",
                self.admin_site.admin_view(self.actions_view),
                name="dialer_qualification_actions",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:dialer_qualification_changelist")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = user_tenant(request.user)
        if tenant is None:
            messages.info(request, _("O mapeamento é de cada empresa: entre como administrador de uma empresa."))
            return redirect("admin:index")
        qualifications = list(Qualification.objects.filter(tenant=tenant).order_by("list_name", "list_id", "name"))
        mapped = {
            (m.list_id, m.behavior): m.qualification_id for m in QualificationMapping.objects.filter(tenant=tenant)
        }
        lists = {}
        for qualification in qualifications:
            lists.setdefault(
                qualification.list_id,
                {"id": qualification.list_id, "name": qualification.list_name, "choices": [], "campaigns": []},
            )["choices"].append(qualification)
            lists[qualification.list_id]["campaigns"] = qualification.list_campaigns
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            form = QualificationMappingForm(
                request.POST, lists={list_id: choices["choices"] for list_id, choices in lists.items()}
            )
            if not form.is_valid():
                messages.error(request, _("Escolha uma qualificação da própria lista."))
                return redirect("admin:dialer_qualification_changelist")
            save_mappings(tenant, form.mappings(), request.user)
            messages.success(request, _("Mapeamento salvo."))
            return redirect("admin:dialer_qualification_changelist")
        actions = actions_for(tenant)
        rows = [
            {
                **qualification_list,
                "actions": [{"qualification": q, "selected": actions[q.pk]} for q in qualification_list["choices"]],
                "behaviors": [
                    {
                        "value": behavior.value,
                        "label": behavior.label,
                        "selected": mapped.get((list_id, behavior.value)),
                    }
                    for behavior in DispositionBehavior
                ],
            }
            for list_id, qualification_list in lists.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Qualificações do 3C Plus"),
            "opts": self.model._meta,
            "lists": rows,
            "synced_at": max((q.synced_at for q in qualifications), default=None),
            "writes": writes_qualifications(tenant),
            "action_choices": QualifiedAction.choices,
            "can_change": self.has_change_permission(request),
            "tenant": tenant,
        }
        return TemplateResponse(request, "admin/dialer/qualifications.html", context)

    def actions_view(self, request):
        """What each qualification does here: one choice per qualification of the tenant's catalogue."""
        if request.method != "POST":
            return redirect("admin:dialer_qualification_changelist")
        tenant = user_tenant(request.user)
        if tenant is None or not self.has_change_permission(request):
            raise PermissionDenied
        form = QualificationActionsForm(request.POST, qualifications=Qualification.objects.filter(tenant=tenant))
        if not form.is_valid():
            messages.error(request, _("Escolha uma das ações da lista para cada qualificação."))
        else:
            save_actions(tenant, form.actions(), request.user)
            messages.success(request, _("Ações das qualificações salvas."))
        return redirect("admin:dialer_qualification_changelist")

    def sync_view(self, request):
        if request.method != "POST":
            return redirect("admin:dialer_qualification_changelist")
        tenant = user_tenant(request.user)
        if tenant is None or not self.has_change_permission(request):
            raise PermissionDenied
        try:
            counts = sync_qualifications(tenant)
        except DialerError as error:
            messages.error(request, _("Não foi possível sincronizar: %(e)s") % {"e": error.message})
        else:
            messages.success(
                request,
                _(
                    "Sincronizado: %(q)d qualificação(ões) em %(l)d lista(s); %(m)d tabulação(ões) mapeada(s) "
                    "pelo nome; %(r)d removida(s)."
                )
                % {"q": counts["qualifications"], "l": counts["lists"], "m": counts["mapped"], "r": counts["removed"]},
            )
        return redirect("admin:dialer_qualification_changelist")


@admin.register(DialerRemoval)
class DialerRemovalAdmin(ReadOnlyMixin, TenantScopedAdmin):
    """Who was taken out of the 3C Plus campaigns, why, and whether 3C Plus confirmed it."""

    list_display = ("id", "created_at", "client", "campaign_id", "display_contacts", "reason", "display_status")
    list_display_links = ("id", "created_at")
    list_filter = (("status", ChoicesDropdownFilter),)
    list_filter_submit = True
    list_select_related = ("client",)
    search_fields = ("client__name", "client__external_id")
    raw_id_fields = ("client",)
    actions = ["retry"]
    readonly_fields = (
        "client",
        "campaign_id",
        "contacts",
        "reason",
        "status",
        "attempts",
        "error",
        "requested_by",
        "created_at",
        "next_attempt_at",
        "done_at",
    )

    @display(description=_("situação"), label={"pendente": "info", "removido": "success", "falhou": "danger"})
    def display_status(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("telefones"))
    def display_contacts(self, obj):
        return removal_numbers(obj)

    @admin.action(description=_("Tentar remover de novo"))
    def retry(self, request, queryset):
        count = removals.retry_removals(queryset)
        messages.success(request, _("%(n)d remoção(ões) na fila de novo.") % {"n": count})


class CallingWindowOverrideForm(forms.ModelForm):
    """A UF's window for the tenant: tighter than the law at will, wider only with a reason (dialer/calling_windows)."""

    tenant = None  # set per request by the admin

    class Meta:
        model = CallingWindowOverride
        fields = ("state", "weekdays", "saturday", "sunday", "holidays", "reason")

    def clean(self):
        cleaned = super().clean()
        state = cleaned.get("state")
        tenant = cleaned.get("tenant") or self.tenant
        if state and tenant is not None:
            others = CallingWindowOverride.objects.filter(tenant=tenant, state=state)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("state", _("Já existe uma janela para esta UF: altere a existente."))
        hours = {kind: cleaned.get(kind) or "" for kind in eligibility.DAY_KINDS}
        for field, message in calling_windows.window_errors(state or "", hours, cleaned.get("reason") or "").items():
            self.add_error(field, message)
        return cleaned


@admin.register(CallingWindowOverride)
class CallingWindowOverrideAdmin(TenantScopedAdmin):
    """The tenant's calling window per UF, beside the law's; every change is audited."""

    form = CallingWindowOverrideForm
    edit_roles = frozenset({Role.ADMIN})
    list_display = ("state", "weekdays", "saturday", "sunday", "holidays", "display_law", "updated_by", "updated_at")
    list_select_related = ("updated_by",)
    readonly_fields = ("display_law_rule",)
    fields = ("state", "display_law_rule", "weekdays", "saturday", "sunday", "holidays", "reason")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"tenant": user_tenant(request.user)})

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if request.user.is_superuser and "tenant" not in fields:
            fields.insert(0, "tenant")
        return fields

    @display(description=_("lei do estado"))
    def display_law(self, obj):
        return rule_text.law_summary(obj.state)

    @display(description=_("o que a lei permite"))
    def display_law_rule(self, obj):
        if obj is None or not obj.state:
            return _("Escolha a UF e salve: a lei de cada estado aparece aqui e na lista.")
        return rule_text.law_summary(obj.state)

    def save_model(self, request, obj, form, change):
        self.assign_tenant(request, obj)
        before = None
        if change:
            stored = CallingWindowOverride.objects.get(pk=obj.pk)
            before = audit.snapshot(stored, calling_windows.AUDITED_FIELDS)
        calling_windows.save_override(obj, request.user, before=before)

    def delete_model(self, request, obj):
        calling_windows.delete_override(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            calling_windows.delete_override(obj, request.user)


class MunicipalHolidayForm(forms.ModelForm):
    tenant = None  # set per request by the admin

    class Meta:
        model = MunicipalHoliday
        fields = ("state", "city", "date", "name")

    def clean_city(self):
        city = " ".join((self.cleaned_data.get("city") or "").split())
        if not city or has_control_characters(city):
            raise forms.ValidationError(_("Informe o nome da cidade."))
        return city

    def clean_date(self):
        return check_date_window(self.cleaned_data["date"], "data")

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or self.tenant
        state, city, day = cleaned.get("state"), cleaned.get("city"), cleaned.get("date")
        if tenant is not None and state and city and day:
            if calling_windows.holiday_exists(tenant, state, city, day, exclude_pk=self.instance.pk):
                self.add_error("date", _("Esta cidade já tem um feriado nesta data."))
        return cleaned


class MunicipalHolidayResource(resources.ModelResource):
    """Municipal holidays by file: columns uf, cidade, data (dd/mm/aaaa), feriado; a bad row is listed and skipped,
    a holiday already registered is skipped."""

    class Meta:
        model = MunicipalHoliday
        fields = ("state", "city", "date", "name")
        import_id_fields = ()
        use_transactions = True

    def __init__(self, tenant=None, **kwargs):
        super().__init__(**kwargs)
        self.tenant = tenant
        self._parsed = {}

    def get_import_fields(self):
        return [import_fields.Field(column_name=name) for name in calling_windows.HOLIDAY_COLUMNS]

    def get_user_visible_fields(self):
        return self.get_import_fields()

    def get_export_fields(self, selected_fields=None):
        attributes = ("state", "city", "date", "name")
        return [
            import_fields.Field(column_name=column, attribute=attribute)
            for column, attribute in zip(calling_windows.HOLIDAY_COLUMNS, attributes, strict=True)
        ]

    def get_queryset(self):
        return MunicipalHoliday.objects.filter(tenant=self.tenant)

    def before_import(self, dataset, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa."))

    def before_import_row(self, row, row_number=None, **kwargs):
        self._parsed[row_number] = calling_windows.parse_holiday_row(dict(row))

    def init_instance(self, row=None):
        return MunicipalHoliday(tenant=self.tenant)

    def import_instance(self, instance, row, **kwargs):
        for name, value in self._parsed[kwargs["row_number"]].items():
            setattr(instance, name, value)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return calling_windows.holiday_exists(self.tenant, instance.state, instance.city, instance.date)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        if import_validation_errors:
            raise ValidationError(import_validation_errors)


@admin.register(MunicipalHoliday)
class MunicipalHolidayAdmin(PartialImportMixin, TenantScopedAdmin, ImportExportModelAdmin):
    """Municipal holidays, added to the national and state ones: nobody in that city is called that day."""

    form = MunicipalHolidayForm
    resource_classes = [MunicipalHolidayResource]
    import_form_class = BoundedImportForm
    import_formats = WALLET_FORMATS
    export_formats = WALLET_FORMATS
    list_display = ("date", "state", "city", "name")
    list_filter = (("state", ChoicesDropdownFilter),)
    list_filter_submit = True
    search_fields = ("city", "name")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"tenant": user_tenant(request.user)})

    def get_import_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user)}

    def get_export_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user)}
