import tablib
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    DropdownFilter,
    FieldTextFilter,
    RangeDateFilter,
    RangeNumericFilter,
)
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import display
from unfold.widgets import UnfoldAdminTextInputWidget

from common.formats import WALLET_FORMATS, SniffingCSV
from common.parsing import format_brl, format_phone, parse_cpf, parse_phone
from common.replica import replica_reads
from common.reversing import admin_add_url
from common.spreadsheets import SafeXLSX
from core import import_jobs
from core import services as core_services
from core.import_admin import QueuedImportMixin, WalletImportForm
from core.importing import COLUMN_HELP, EXPORT_ONLY_HEADERS, TEMPLATE_HEADERS, template_rows
from core.models import AGING_BUCKETS, Client, ClientPhone, Creditor, Debt
from core.pagination import WalletPaginator
from core.resources import ClientResource
from core.wallet_filter import AGING, DIALABLE, DO_NOT_CALL, STATE, InvalidWalletFilter, WalletFilter
from tenants.admin_base import (
    PartialImportMixin,
    TenantRelatedFilter,
    TenantScopedAdmin,
    TenantScopedTabularInline,
    scoped_related,
)
from tenants.models import Role
from tenants.roles import user_tenant

STATUS_LABELS = dict(Client.Status.choices)
UFS = "AC AL AM AP BA CE DF ES GO MA MG MS MT PA PB PE PI PR RJ RN RO RR RS SC SE SP TO".split()


def wallet_filter(request) -> WalletFilter:
    """The Carteira's query string as a WalletFilter, read once per request (an unreadable one is the page's usual
    "invalid filter" error)."""
    if not hasattr(request, "_wallet_filter"):
        try:
            request._wallet_filter = WalletFilter.from_query(request.GET)
        except InvalidWalletFilter as error:
            raise IncorrectLookupParameters(error) from None
    return request._wallet_filter


class SelectsByWalletFilter:
    """A Carteira box that only draws itself: its rows are the WalletFilter's fields named here, the same the worker
    replays for a confirmed "select all" and the command line builds from its options."""

    wallet_fields: tuple[str, ...] = ()

    def queryset(self, request, queryset):
        return queryset.filter(wallet_filter(request).part(*self.wallet_fields).q())


class CreditorFilter(SelectsByWalletFilter, TenantRelatedFilter):
    wallet_fields = ("creditor_ids",)


class StatusFilter(SelectsByWalletFilter, ChoicesDropdownFilter):
    wallet_fields = ("statuses",)


class AgingFilter(SelectsByWalletFilter, DropdownFilter):
    title = _("faixa de atraso")
    parameter_name = AGING
    wallet_fields = ("aging",)

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, _low, _high in AGING_BUCKETS]


class DueDateFilter(SelectsByWalletFilter, RangeDateFilter):
    wallet_fields = ("due_from", "due_to")


class BalanceFilter(SelectsByWalletFilter, RangeNumericFilter):
    wallet_fields = ("balance_from", "balance_to")


class StateFilter(SelectsByWalletFilter, DropdownFilter):
    title = _("UF")
    parameter_name = STATE
    wallet_fields = ("state",)

    def lookups(self, request, model_admin):
        return [(uf, uf) for uf in UFS]


class CityFilter(SelectsByWalletFilter, FieldTextFilter):
    title = _("cidade")
    wallet_fields = ("city",)


class DialablePhoneFilter(SelectsByWalletFilter, DropdownFilter):
    title = _("telefone discável")
    parameter_name = DIALABLE
    wallet_fields = ("dialable",)

    def lookups(self, request, model_admin):
        return [("sim", _("Com telefone ativo")), ("nao", _("Sem telefone ativo"))]


class DoNotCallFilter(SelectsByWalletFilter, DropdownFilter):
    title = _("não ligar")
    parameter_name = DO_NOT_CALL
    wallet_fields = ("do_not_call",)

    def lookups(self, request, model_admin):
        return [("sim", _("Marcados para não ligar")), ("nao", _("Podem ser chamados"))]


class ClientForm(forms.ModelForm):
    # A form field of its own (it takes the punctuation), drawn like unfold's other boxes: a bare TextInput has
    # no border and no background, and the box could not be seen on "Adicionar cliente".
    cpf = forms.CharField(
        label=_("CPF"), max_length=20, help_text=_("Com ou sem pontuação."), widget=UnfoldAdminTextInputWidget
    )

    class Meta:
        model = Client
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["cpf"] = self.instance.formatted_cpf
        operator = self.fields.get("assigned_operator")
        if operator is not None and self.instance.assigned_operator_id:
            # Whoever is responsible now stays selectable, even if no longer an operator.
            operator.queryset = operator.queryset.model._default_manager.filter(
                Q(pk__in=operator.queryset.values("pk")) | Q(pk=self.instance.assigned_operator_id)
            ).order_by("first_name", "last_name", "username")

    def clean_cpf(self):
        return parse_cpf(self.cleaned_data["cpf"])


class ClientPhoneForm(forms.ModelForm):
    number = forms.CharField(
        label=_("número"),
        max_length=30,
        help_text=_("Qualquer formato; gravado em E.164."),
        widget=UnfoldAdminTextInputWidget,
    )

    class Meta:
        model = ClientPhone
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["number"] = self.instance.formatted

    def clean_number(self):
        return parse_phone(self.cleaned_data["number"])


class ClientPhoneInline(TenantScopedTabularInline):
    model = ClientPhone
    form = ClientPhoneForm
    extra = 0
    fields = ("number", "kind", "whatsapp", "priority", "active", "deactivation_reason", "do_not_call_reason")


class DebtInline(TenantScopedTabularInline):
    model = Debt
    extra = 0
    fields = (
        "contract_code",
        "installment_number",
        "installment_total",
        "due_date",
        "original_amount",
        "paid_amount",
        "status",
        "display_payment_link",
    )
    readonly_fields = ("display_payment_link",)

    @display(description=_("baixa"))
    def display_payment_link(self, obj):
        if not obj.pk or obj.status != Debt.Status.OPEN:
            return "—"
        return format_html(
            '<a class="text-primary-600" href="{}">{}</a>',
            admin_add_url("attendance_payment", debt=obj.pk),
            _("Dar baixa"),
        )


def skipped_phones_message(warnings) -> str:
    """The rows imported with a phone skipped, by line (the first 20), for the import's pages."""
    lines = sorted({line for line, _external_id, _message in warnings})
    shown = "; ".join(f"{line}: {message}" for line, _external_id, message in warnings[:20])
    return _(
        "%(count)d linha(s) importada(s) sem um telefone inválido, que foi ignorado (o cliente e o título entram): "
        "%(shown)s"
    ) % {"count": len(lines), "shown": shown}


class WalletChangeList(ChangeList):
    def get_ordering(self, request, queryset):
        """Ties are broken by id in the direction of the sorted column (Django always uses -id): then one
        index (tenant, column, id) serves the column both ways, read forwards or backwards."""
        ordering = super().get_ordering(request, queryset)
        first, last = ordering[0], ordering[-1]
        if len(ordering) > 1 and isinstance(first, str) and not first.startswith("-") and last in ("-pk", "-id"):
            ordering = [*ordering[:-1], last[1:]]
        return ordering

    def get_results(self, request):
        super().get_results(request)
        self.result_count = self.paginator.count  # reading the last page may have made the count exact
        if self.result_count == 0:
            self.result_list = self.queryset.none()  # nothing to list: no second query for it


@admin.register(Client)
class ClientAdmin(QueuedImportMixin, PartialImportMixin, TenantScopedAdmin, ImportExportModelAdmin):
    """The Carteira: filters, search and columns built for a million clients per tenant."""

    form = ClientForm
    resource_classes = [ClientResource]
    import_formats = WALLET_FORMATS
    export_formats = WALLET_FORMATS
    import_form_class = WalletImportForm
    export_form_class = ExportForm
    list_display = (
        "name",
        "display_cpf",
        "display_creditor",
        "display_open_balance",
        "display_days_overdue",
        "display_main_phone",
        "display_status",
        "display_do_not_call",
        "attend_link",
    )
    list_display_links = ("name",)
    # The rows drawn in one pass (core/templatetags/wallet_list.py); import-export's change list extends it.
    change_list_template = "admin/core/client/change_list.html"
    list_select_related = ("creditor",)
    list_filter = (
        ("creditor", CreditorFilter),
        ("status", StatusFilter),
        AgingFilter,
        ("oldest_due_date", DueDateFilter),
        ("open_balance", BalanceFilter),
        StateFilter,
        ("city", CityFilter),
        DialablePhoneFilter,
        DoNotCallFilter,
    )
    list_filter_submit = True
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = WalletPaginator
    # Read twice per row by unfold's results template; absent, each read is a failed lookup that costs a dir().
    list_sections = ()
    search_fields = ("name",)  # turns the search box on; the real search is get_search_results
    search_help_text = _("Nome, CPF (com ou sem pontuação), telefone em qualquer formato ou código externo.")
    ordering = ("-id",)
    inlines = [ClientPhoneInline, DebtInline]
    autocomplete_fields = ("creditor",)
    readonly_fields = (
        "display_open_balance",
        "oldest_due_date",
        "display_days_overdue",
        "created_at",
        "updated_at",
        "do_not_call_at",
        "do_not_call_by",
    )
    fieldsets = (
        (None, {"fields": ("name", "cpf", "email", "creditor", "external_id", "status", "assigned_operator")}),
        (
            _("Endereço"),
            {
                "fields": (
                    ("street", "number"),
                    ("complement", "district"),
                    ("city", "state"),
                    "postal_code",
                )
            },
        ),
        (_("Observações"), {"fields": ("notes",)}),
        (_("Não ligar"), {"fields": ("do_not_call_reason", ("do_not_call_at", "do_not_call_by"))}),
        (
            _("Situação da dívida"),
            {
                "fields": (
                    "display_open_balance",
                    "oldest_due_date",
                    "display_days_overdue",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    def get_changelist(self, request, **kwargs):
        return WalletChangeList

    def changelist_view(self, request, extra_context=None):
        """Read (and drawn) on the streaming replica when one is configured and fresh (common/replica.py)."""
        with replica_reads(request):
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()
        return response

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name != "assigned_operator":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        # A select of the tenant's operators by name, not a box for a user's id.
        users = scoped_related(db_field.remote_field.model, request)
        operators = users.filter(membership__role=Role.OPERATOR)
        kwargs["queryset"] = operators.order_by("first_name", "last_name", "username")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.label_from_instance = lambda user: user.get_full_name() or user.username
        return field

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        tenant = None if request.user.is_superuser else user_tenant(request.user)
        return queryset.filter(WalletFilter(search=search_term).q(tenant)), False

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user)}

    import_template_name = "admin/core/client/import.html"

    def get_urls(self):
        return [
            *(
                path(
                    f"modelo.{extension}",
                    self.admin_site.admin_view(self.template_file_view),
                    {"extension": extension},
                    name=f"core_client_import_template_{extension}",
                )
                for extension in ("csv", "xlsx")
            ),
            *super().get_urls(),
        ]

    def template_file_view(self, request, extension):
        """The model file for the import: the columns it reads and an example client with two títulos."""
        if not self.has_import_permission(request):
            raise Http404
        tenant = user_tenant(request.user)
        creditor = Creditor.objects.filter(tenant=tenant).order_by("name").first() if tenant else None
        rows = template_rows(creditor.name if creditor else "Banco Exemplo")
        dataset = tablib.Dataset(*rows, headers=TEMPLATE_HEADERS)
        file_format = SniffingCSV() if extension == "csv" else SafeXLSX()
        response = HttpResponse(file_format.export_data(dataset), content_type=file_format.get_content_type())
        response["Content-Disposition"] = f'attachment; filename="modelo-carteira.{extension}"'
        return response

    def get_import_context_data(self, **kwargs):
        return {
            **super().get_import_context_data(**kwargs),
            "column_help": [
                (column, COLUMN_HELP.get(column, "")) for column in [*TEMPLATE_HEADERS, *EXPORT_ONLY_HEADERS]
            ],
        }

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        warnings = getattr(context.get("result"), "wallet_warnings", None)
        if warnings:
            messages.warning(request, skipped_phones_message(warnings))
        return response

    def process_result(self, result, request):
        """The confirmed file joins Importações da carteira with its report, like a file the worker imported."""
        response = super().process_result(result, request)
        tenant = user_tenant(request.user)
        if tenant is not None and hasattr(result, "wallet_errors"):
            job = import_jobs.record_inline_import(
                tenant,
                request.user,
                result.wallet_file_name,
                result.total_rows,
                result.wallet_errors,
                result.wallet_warnings,
            )
            if result.wallet_warnings:
                messages.warning(request, skipped_phones_message(result.wallet_warnings))
            messages.info(
                request,
                format_html(
                    '{} <a class="underline" href="{}">{}</a>',
                    _("Importação registrada em Importações da carteira."),
                    reverse("admin:core_walletimport_change", args=[job.pk]),
                    _("Ver a importação #%(id)s e o relatório") % {"id": job.pk},
                ),
            )
        return response

    def get_export_filename(self, request, queryset, file_format):
        return f"carteira-{timezone.localdate():%Y-%m-%d}.{file_format.get_extension()}"

    def save_model(self, request, obj, form, change):
        self.assign_tenant(request, obj)
        was = None
        if "do_not_call_reason" in form.changed_data:
            was = form.initial.get("do_not_call_reason", "") if change else ""
        core_services.save_client(obj, request.user, do_not_call_was=was)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        core_services.refresh_client(form.instance)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for phone_form in formset.forms:
            phone = phone_form.instance
            if phone.pk and "do_not_call_reason" in phone_form.changed_data and phone.do_not_call_reason:
                core_services.set_phone_do_not_call(phone, phone.do_not_call_reason, request.user)

    @display(description=_("CPF"), ordering="cpf")
    def display_cpf(self, obj):
        return obj.formatted_cpf

    # Sorted by the creditor's id, which groups each creditor's clients from an index; by name it would be a
    # join and a sort of the whole wallet.
    @display(description=_("credor"), ordering="creditor_id")
    def display_creditor(self, obj):
        return obj.creditor

    @display(description=_("em aberto"), ordering="open_balance")
    def display_open_balance(self, obj):
        return format_brl(obj.open_balance)

    @display(description=_("dias de atraso"), ordering="oldest_due_date")
    def display_days_overdue(self, obj):
        return obj.days_overdue

    @display(description=_("telefone principal"))
    def display_main_phone(self, obj):
        return format_phone(obj.main_phone) or "—"

    @display(
        description=_("situação"),
        ordering="status",
        label={
            Client.Status.OPEN: "warning",
            Client.Status.NEGOTIATING: "info",
            Client.Status.AGREEMENT: "success",
            Client.Status.PAID: "success",
            Client.Status.NO_CONTACT: "danger",
        },
    )
    def display_status(self, obj):
        # A dict of the labels: get_status_display() rebuilds one from the field's choices on every row.
        return obj.status, STATUS_LABELS.get(obj.status, obj.status)

    @display(description=_("não ligar"), label={"nao_ligar": "danger"})
    def display_do_not_call(self, obj):
        if not obj.do_not_call_reason:
            return ""
        return "nao_ligar", _("Não ligar: %(reason)s") % {"reason": obj.get_do_not_call_reason_display()}

    @display(description=_("atender"))
    def attend_link(self, obj):
        return format_html(
            '<a class="text-primary-600 font-medium" href="{}">{}</a>', obj.get_absolute_url(), _("Atender")
        )


@admin.register(Creditor)
class CreditorAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "document",
        "max_discount_percent",
        "max_installments",
        "display_min_installment",
        "min_entry_percent",
        "monthly_interest_percent",
        "fine_percent",
        "active",
    )
    list_filter = ("active",)
    search_fields = ("name", "document")
    fieldsets = (
        (None, {"fields": ("name", "document", "active")}),
        (
            _("Regras de negociação"),
            {
                "fields": (
                    ("max_discount_percent", "max_installments"),
                    ("min_installment_amount", "min_entry_percent"),
                    ("monthly_interest_percent", "fine_percent", "fees_percent"),
                    "late_tolerance_days",
                )
            },
        ),
    )

    @display(description=_("parcela mínima"), ordering="min_installment_amount")
    def display_min_installment(self, obj):
        return format_brl(obj.min_installment_amount)

    def save_model(self, request, obj, form, change):
        self.assign_tenant(request, obj)
        core_services.save_creditor(obj, request.user, fields=[f for f in form.fields if f != "tenant"])
