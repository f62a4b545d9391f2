import datetime
import uuid
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.admin import ImportExportModelAdmin
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter, RangeDateFilter, RangeDateTimeFilter
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextareaWidget

from attendance import payments, pix, selectors, services
from attendance.models import (
    Agreement,
    AgreementInstallment,
    CallDisposition,
    ClientAccessLog,
    DispositionType,
    Message,
    Payment,
)
from attendance.resources import PaymentResource
from common import uploads
from common.formats import WALLET_FORMATS
from common.money_fields import BRLDecimalField, MoneyInput
from common.parsing import check_date_window, clean_text, format_brl, parse_id
from common.reversing import admin_add_url
from core import import_jobs
from core.importing import clean_cells
from core.models import Client, Debt, WalletImport
from dialer.timeline import call_entries
from tenants.admin_base import (
    BoundedImportForm,
    DayRangeFilter,
    PartialImportMixin,
    ReadOnlyMixin,
    TenantExportMixin,
    TenantRelatedFilter,
    TenantScopedAdmin,
    nowrap,
    nowrap_moment,
)
from tenants.models import Role
from tenants.roles import is_back_office, is_tenant_admin, user_tenant


@admin.register(DispositionType)
class DispositionTypeAdmin(TenantScopedAdmin):
    """The five global tabulações are read-only; a tenant adds its own."""

    list_display = ("name", "behavior", "debtor_contact", "order", "active", "display_scope")
    edit_roles = frozenset({Role.ADMIN})

    def get_queryset(self, request):
        if request.user.is_superuser:
            return DispositionType.objects.all()
        return DispositionType.visible_to(user_tenant(request.user))

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.tenant_id is None and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission

    @display(description=_("escopo"))
    def display_scope(self, obj):
        return _("Todas as empresas") if obj.tenant_id is None else obj.tenant


class DispositionTypeFilter(TenantRelatedFilter):
    """The global tabulação types belong to no tenant: offered beside the tenant's own."""

    def field_choices(self, field, request, model_admin):
        types = DispositionType.objects.all()
        if not request.user.is_superuser:
            types = DispositionType.visible_to(user_tenant(request.user))
        return [(kind.pk, str(kind)) for kind in types.order_by(*DispositionType._meta.ordering or ["pk"])]


@admin.register(CallDisposition)
class CallDispositionAdmin(ReadOnlyMixin, TenantScopedAdmin):
    """Tabulações are the operators' record; here they are read, and failed 3C Plus write-backs retried."""

    list_display = (
        "display_created",
        "client",
        "type",
        "operator",
        "display_phone",
        "display_callback",
        "call_id",
        "display_qualification",
    )
    list_filter = (
        ("operator", TenantRelatedFilter),
        ("type", DispositionTypeFilter),
        ("created_at", DayRangeFilter),
        ("qualification_status", ChoicesDropdownFilter),
    )
    actions = ["retry_qualification"]
    list_filter_submit = True
    list_select_related = ("client", "type", "operator", "phone")
    search_fields = ("client__name", "client__external_id", "call_id")
    date_hierarchy = None
    show_full_result_count = False

    @display(description=_("quando"), ordering="created_at")
    def display_created(self, obj):
        return nowrap_moment(obj.created_at)

    @display(description=_("retornar em"), ordering="callback_at")
    def display_callback(self, obj):
        return nowrap_moment(obj.callback_at)

    @display(description=_("telefone"))
    def display_phone(self, obj):
        return nowrap(obj.phone.formatted) if obj.phone_id else "—"

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
    fields = (
        "number",
        "display_due_date",
        "display_amount",
        "display_situation",
        "display_paid_amount",
        "paid_on",
        "payment_method",
        "display_pay",
        "display_payments",
        "display_pix",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Installments have no tenant of their own: whoever may see the agreement sees its schedule.
        return self.admin_site._registry[self.parent_model].has_view_permission(request, obj)

    @display(description=_("situação"))
    def display_situation(self, obj):
        return obj.situation(timezone.localdate())

    @display(description=_("vencimento"))
    def display_due_date(self, obj):
        return obj.due_date.strftime("%d/%m/%Y")

    @display(description=_("valor"))
    def display_amount(self, obj):
        return format_brl(obj.amount)

    @display(description=_("valor pago"))
    def display_paid_amount(self, obj):
        return format_brl(obj.paid_amount)

    @display(description=_("pagamentos"))
    def display_payments(self, obj):
        return render_to_string(
            "admin/attendance/payment/_payments.html", {"payments": obj.payments.order_by("paid_on", "id")}
        )

    @display(description=_("PIX copia e cola"))
    def display_pix(self, obj):
        if obj.status != AgreementInstallment.Status.OPEN or obj.agreement.status != Agreement.Status.ACTIVE:
            return "—"
        charge = next(iter(pix.charges(obj.agreement.tenant, [obj])), None)
        if charge is None:
            return _("Configure a chave PIX da empresa.")
        return render_to_string("admin/attendance/_pix_charge.html", {"charge": charge})

    @display(description=_("baixa"))
    def display_pay(self, obj):
        if obj.status != AgreementInstallment.Status.OPEN or obj.agreement.status != Agreement.Status.ACTIVE:
            return "—"
        return format_html(
            '<a class="text-primary-600" href="{}">{}</a>',
            admin_add_url("attendance_payment", installment=obj.pk),
            _("Dar baixa"),
        )


class InstallmentDueFilter(DropdownFilter):
    """Agreements to chase: an open installment due this week (Monday to Sunday), or one already late."""

    title = _("parcelas")
    parameter_name = "parcelas"

    def lookups(self, request, model_admin):
        return [("semana", _("Vencem esta semana")), ("atrasadas", _("Em atraso"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        open_installments = AgreementInstallment.objects.filter(
            agreement=OuterRef("pk"), status=AgreementInstallment.Status.OPEN
        )
        if self.value() == "semana":
            monday = today - datetime.timedelta(days=today.weekday())
            week = open_installments.filter(due_date__range=(monday, monday + datetime.timedelta(days=6)))
            return queryset.filter(Exists(week))
        if self.value() == "atrasadas":
            late = open_installments.filter(due_date__lt=today)
            return queryset.filter(Exists(late), status=Agreement.Status.ACTIVE)
        return queryset


def _brl_display(name):
    """A read-only money field of the agreement, shown as people read it: R$ 1.234,56."""

    @display(description=Agreement._meta.get_field(name).verbose_name)
    def show(self, obj):
        return format_brl(getattr(obj, name))

    return show


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
        "display_created",
    )
    list_filter = (
        ("status", ChoicesDropdownFilter),
        ("creditor", TenantRelatedFilter),
        ("operator", TenantRelatedFilter),
        InstallmentDueFilter,
        ("created_at", DayRangeFilter),
    )
    list_filter_submit = True
    list_select_related = ("client", "creditor", "operator")
    search_fields = ("client__name", "client__external_id", "id")
    inlines = [InstallmentInline]
    # No one-click rejection: it takes a reason the operator is told, on a page of its own (reject_view).
    actions = ["approve", "cancel"]
    # Buttons of the change form: a POST of the form itself (CSRF and all), the note typed there included.
    actions_submit_line = ["approve_on_page", "cancel_on_page"]
    show_full_result_count = False
    readonly_fields = (
        "client",
        "creditor",
        "operator",
        "status",
        "display_principal",
        "display_interest",
        "display_fine",
        "display_fees",
        "discount_percent",
        "display_discount_amount",
        "display_total_amount",
        "display_entry_amount",
        "installments_count",
        "first_due_date",
        "display_reasons",
        "decided_by",
        "decided_at",
        "call_id",
        "created_at",
        "display_justification",
        "display_reject",
        "display_receipt",
        "display_call",
        "display_history",
    )
    fieldsets = (
        (None, {"fields": ("client", "creditor", "operator", "status", "created_at", "display_receipt")}),
        (
            _("Valores"),
            {
                "fields": (
                    ("display_principal", "display_interest", "display_fine", "display_fees"),
                    ("discount_percent", "display_discount_amount"),
                    "display_total_amount",
                    ("display_entry_amount", "installments_count", "first_due_date"),
                )
            },
        ),
        (
            _("Aprovação"),
            {
                "fields": (
                    "display_reasons",
                    "display_justification",
                    "display_reject",
                    "decided_by",
                    "decided_at",
                    "decision_note",
                )
            },
        ),
        (_("Ligação"), {"fields": ("call_id", "display_call")}),
        (_("Histórico do cliente"), {"fields": ("display_history",)}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(
        description=_("situação"),
        ordering="status",
        label={
            "ativo": "success",
            "aguardando_aprovacao": "warning",
            "rejeitado": "danger",
            "cancelado": "danger",
            "quebrado": "danger",
            "quitado": "info",
        },
    )
    def display_status(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("total"), ordering="total")
    def display_total(self, obj):
        return nowrap(format_brl(obj.total))

    @display(description=_("criado em"), ordering="created_at")
    def display_created(self, obj):
        return nowrap_moment(obj.created_at)

    display_principal = _brl_display("principal")
    display_interest = _brl_display("interest")
    display_fine = _brl_display("fine")
    display_fees = _brl_display("fees")
    display_discount_amount = _brl_display("discount_amount")
    display_total_amount = _brl_display("total")
    display_entry_amount = _brl_display("entry_amount")

    @display(description=_("fora das regras"))
    def display_reasons(self, obj):
        return "; ".join(obj.approval_reasons) or "—"

    @display(description=_("justificativa do operador"))
    def display_justification(self, obj):
        return obj.justification or "—"

    @display(description=_("rejeitar"))
    def display_reject(self, obj):
        if obj.status != Agreement.Status.PENDING_APPROVAL:
            return "—"
        return format_html(
            '<a class="text-red-600 underline" data-testid="reject-link" href="{}">{}</a>',
            reverse("admin:attendance_agreement_reject", args=[obj.pk]),
            _("Rejeitar acordo…"),
        )

    @display(description=_("termo de quitação"))
    def display_receipt(self, obj):
        if obj.status != Agreement.Status.COMPLETED:
            return "—"
        return format_html(
            '<a class="underline" data-testid="receipt-link" href="{}">{}</a>',
            reverse("attendance:termo_de_quitacao", args=[obj.client_id, obj.pk]),
            _("Baixar o termo de quitação (PDF)"),
        )

    @display(description=_("eventos da ligação"))
    def display_call(self, obj):
        entries = call_entries(obj.tenant, obj.call_id) if obj.call_id else []
        timeline_url = reverse("attendance:client", args=[obj.client_id])
        if obj.call_id:
            timeline_url += f"?call_id={quote(obj.call_id)}"
        return render_to_string(
            "admin/attendance/agreement/_call.html",
            {"agreement": obj, "entries": entries, "timeline_url": timeline_url},
        )

    @display(description=_("histórico do cliente"))
    def display_history(self, obj):
        history = selectors.client_history(obj.client, exclude_agreement=obj)
        return render_to_string("admin/attendance/agreement/_history.html", {"agreement": obj, **history})

    def get_urls(self):
        return [
            path(
                "<path:object_id>/rejeitar/",
                self.admin_site.admin_view(self.reject_view),
                name="attendance_agreement_reject",
            ),
            *super().get_urls(),
        ]

    def reject_view(self, request, object_id):
        """Rejecting asks for the reason (the operator is told it) and a confirmation, on a page of its own."""
        agreement = (
            self.get_queryset(request).select_related("client", "operator").filter(pk=parse_id(object_id)).first()
        )
        if agreement is None:
            raise Http404
        if not self.has_change_permission(request, agreement):
            raise PermissionDenied
        change_url = reverse("admin:attendance_agreement_change", args=[agreement.pk])
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            tenant = user_tenant(request.user) or agreement.tenant
            try:
                services.reject_agreement(tenant, request.user, agreement, form.cleaned_data["reason"])
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(
                    request,
                    _("Acordo #%(id)s rejeitado; %(operator)s verá o motivo no console e no histórico do cliente.")
                    % {"id": agreement.pk, "operator": agreement.operator},
                )
                return HttpResponseRedirect(change_url)
        elif agreement.status != Agreement.Status.PENDING_APPROVAL:
            messages.error(request, _("Só acordos aguardando aprovação podem ser rejeitados."))
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Rejeitar o acordo #%(id)s") % {"id": agreement.pk},
            "opts": self.model._meta,
            "agreement": agreement,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/attendance/agreement/reject.html", context)

    def _decide(self, request, queryset, service, done_message, note=""):
        tenant = user_tenant(request.user)
        done = 0
        for agreement in queryset:
            try:
                service(tenant or agreement.tenant, request.user, agreement, note)
                done += 1
            except ValidationError as error:
                messages.error(request, f"#{agreement.pk}: {' '.join(error.messages)}")
        if done:
            messages.success(request, done_message % {"n": done})

    @action(description=_("Aprovar acordos selecionados"))
    def approve(self, request, queryset, note=""):
        self._decide(request, queryset, services.approve_agreement, _("%(n)d acordo(s) aprovado(s)."), note)

    @action(description=_("Cancelar acordos selecionados (devolve os títulos)"))
    def cancel(self, request, queryset, note=""):
        self._decide(request, queryset, services.cancel_agreement, _("%(n)d acordo(s) cancelado(s)."), note)

    def _offers(self, request, object_id, statuses) -> bool:
        """Whether the page offers a decision: to deciders, for an agreement in one of `statuses`.

        A POST is let through on the role alone, so that a button pressed on a stale page reaches the
        service and its refusal is shown, instead of the press silently doing nothing.
        """
        if not self.has_change_permission(request):
            return False
        if request.method == "POST":
            return True
        return self.get_queryset(request).filter(pk=parse_id(object_id), status__in=statuses).exists()

    def has_approve_on_page_permission(self, request, object_id=None):
        return self._offers(request, object_id, [Agreement.Status.PENDING_APPROVAL])

    def has_cancel_on_page_permission(self, request, object_id=None):
        return self._offers(request, object_id, Agreement.OPEN_STATUSES)

    @action(description=_("Aprovar acordo"), permissions=["approve_on_page"])
    def approve_on_page(self, request, obj):
        self.approve(request, [obj], note=obj.decision_note)

    @action(description=_("Cancelar acordo (devolve os títulos)"), permissions=["cancel_on_page"])
    def cancel_on_page(self, request, obj):
        self.cancel(request, [obj], note=obj.decision_note)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Motivo da rejeição"),
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("O operador vê este motivo no console e no histórico do cliente."),
        error_messages={"required": _("Informe o motivo da rejeição: o operador recebe esse motivo.")},
    )

    def clean_reason(self):
        reason = clean_text(self.cleaned_data["reason"]).strip()
        if not reason:
            raise ValidationError(self.fields["reason"].error_messages["required"])
        return reason


class ReversalForm(forms.Form):
    kind = forms.ChoiceField(label=_("Tipo de estorno"), choices=Payment.ReversalKind.choices)
    reason = forms.CharField(
        label=_("Motivo do estorno"),
        max_length=payments.REVERSAL_REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("Fica no histórico do cliente e na auditoria."),
        error_messages={"required": _("Informe o motivo do estorno.")},
    )

    def clean_reason(self):
        reason = clean_text(self.cleaned_data["reason"]).strip()
        if not reason:
            raise ValidationError(self.fields["reason"].error_messages["required"])
        return reason


class PaymentForm(forms.ModelForm):
    """Baixa by hand: the service validates and posts; its refusal (an overpayment…) shows on the form.

    Each rendered form carries a token of its own: posting it twice (a double click, the browser's resubmit)
    posts one payment, as "Gerar acordo" does.
    """

    amount = BRLDecimalField(label=_("valor pago"), max_digits=14, decimal_places=2, widget=MoneyInput)
    accept_credit = forms.BooleanField(
        label=_("aceitar excedente como crédito do cliente"),
        required=False,
        help_text=_("Só marque se o cliente pagou a mais e o valor excedente deve ficar como crédito."),
    )
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    class Meta:
        model = Payment
        fields = ("installment", "debt", "amount", "paid_on", "method", "notes")
        widgets = {"installment": forms.HiddenInput, "debt": forms.HiddenInput}

    def __init__(self, *args, tenant=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant, self.user = tenant, user
        # The view-only page of a recorded payment shows these as read-only: no form fields to scope.
        if "installment" in self.fields:
            self.fields["installment"].queryset = AgreementInstallment.objects.filter(agreement__tenant=tenant)
            self.fields["debt"].queryset = Debt.objects.filter(tenant=tenant)
            self.fields["paid_on"].initial = timezone.localdate()

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data = payments.PaymentInput(
            amount=cleaned["amount"],
            paid_on=cleaned["paid_on"],
            method=cleaned["method"],
            accept_credit=cleaned.get("accept_credit", False),
            notes=cleaned.get("notes", ""),
            submission_token=cleaned["token"],
        )
        # The admin's add view runs in a transaction: a refused form rolls this back with everything else.
        payment, created = payments.post_payment(
            self.tenant, self.user, data, installment=cleaned.get("installment"), debt=cleaned.get("debt")
        )
        payment.posted_before = not created  # the admin says so instead of "added"
        self.instance = payment
        return cleaned


class PaymentImportForm(BoundedImportForm):
    """The payment file's form: a bank's file is as large as the Carteira's (the worker imports it), refused at once
    (in Portuguese) when it cannot be read, and its rows counted to choose between the preview and the worker."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.formats = formats
        self.file_rows = None
        self.file_format = None

    def limits(self) -> uploads.Limits:
        return uploads.queued_limits()

    def clean(self):
        cleaned = super().clean()
        upload, index = cleaned.get("import_file"), cleaned.get("format")
        if upload is None or index in (None, ""):
            return cleaned
        self.file_format = self.formats[int(index)]().get_extension()
        try:
            self.file_rows = import_jobs.inspect_upload(
                upload, self.file_format, read_rows=not self.too_large_inline(), kind=WalletImport.Kind.PAYMENTS
            )
        except import_jobs.UnreadableFile as error:
            self.add_error("import_file", error.message)
        return cleaned

    def too_large_inline(self) -> bool:
        inline = uploads.inline_limits()
        size = self.cleaned_data["import_file"].size or 0
        return size > inline.upload or (self.content_size or 0) > inline.uncompressed

    def goes_to_worker(self) -> bool:
        return self.too_large_inline() or self.file_rows is None or self.file_rows > import_jobs.inline_max_rows()


@admin.register(Payment)
class PaymentAdmin(PartialImportMixin, TenantScopedAdmin, ImportExportModelAdmin):
    """Pagamentos: baixa by hand (from a título or an installment) and by file; recorded, never edited. A file of
    more than import_jobs.inline_max_rows() rows (a bank's) is imported by the worker, with its own progress page."""

    form = PaymentForm
    resource_classes = [PaymentResource]
    import_form_class = PaymentImportForm
    import_template_name = "admin/attendance/payment/import.html"
    import_formats = WALLET_FORMATS
    list_display = (
        "paid_on",
        "client",
        "display_target",
        "display_amount",
        "method",
        "source",
        "external_id",
        "created_by",
        "display_reversed",
    )
    readonly_fields = ("display_reversal",)
    list_filter = (
        ("method", ChoicesDropdownFilter),
        ("source", ChoicesDropdownFilter),
        ("paid_on", RangeDateFilter),
    )
    list_filter_submit = True
    list_select_related = ("client", "installment", "debt", "created_by")
    search_fields = ("client__name", "client__external_id", "external_id")
    show_full_result_count = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        tenant = user_tenant(request.user)

        class TenantPaymentForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, tenant=tenant, user=request.user, **inner)

        return TenantPaymentForm

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The token belongs to the form being submitted; a recorded payment's page has nothing to show for it.
        if obj is None:
            return [name for name in fields if name != "display_reversal"]
        return [name for name in fields if name not in ("token", "display_reversal")] + ["display_reversal"]

    @display(description=_("estorno"))
    def display_reversed(self, obj):
        return obj.get_reversal_kind_display() if obj.reversed_at else "—"

    @display(description=_("estorno"))
    def display_reversal(self, obj):
        return render_to_string("admin/attendance/payment/_reversal.html", {"payment": obj})

    def get_urls(self):
        return [
            path(
                "<path:object_id>/estornar/",
                self.admin_site.admin_view(self.reverse_view),
                name="attendance_payment_reverse",
            ),
            path(
                "importacao/<int:pk>/",
                self.admin_site.admin_view(self.import_job_view),
                name="attendance_payment_import_job",
            ),
            path(
                "importacao/<int:pk>/progresso/",
                self.admin_site.admin_view(self.import_progress_view),
                name="attendance_payment_import_progress",
            ),
            path(
                "importacao/<int:pk>/erros.csv",
                self.admin_site.admin_view(self.import_errors_view),
                name="attendance_payment_import_errors",
            ),
            *super().get_urls(),
        ]

    def create_import_form(self, request):
        # import_action builds the form again after import_action below looked at it: one reading of the file.
        if not hasattr(request, "_payment_import_form"):
            request._payment_import_form = super().create_import_form(request)
        return request._payment_import_form

    def import_action(self, request, **kwargs):
        tenant = user_tenant(request.user)
        if request.method == "POST" and tenant is not None and self.has_import_permission(request):
            form = self.create_import_form(request)
            if form.is_valid() and form.goes_to_worker():
                job = import_jobs.queue_import(
                    tenant,
                    request.user,
                    form.cleaned_data["import_file"],
                    form.file_format,
                    form.file_rows,
                    kind=WalletImport.Kind.PAYMENTS,
                )
                messages.success(request, _("Importação #%(id)s na fila: acompanhe aqui.") % {"id": job.pk})
                return HttpResponseRedirect(reverse("admin:attendance_payment_import_job", args=[job.pk]))
        return super().import_action(request, **kwargs)

    def get_import_context_data(self, **kwargs):
        return {**super().get_import_context_data(**kwargs), "inline_max_rows": import_jobs.inline_max_rows()}

    def _import_job_or_404(self, request, pk):
        """The tenant's own payment file import, to whoever may import payment files; 404 otherwise."""
        tenant = user_tenant(request.user)
        if tenant is None or not self.has_import_permission(request):
            raise Http404
        job = WalletImport.objects.filter(tenant=tenant, kind=WalletImport.Kind.PAYMENTS, pk=pk).first()
        if job is None:
            raise Http404
        return job

    def _import_progress_context(self, job) -> dict:
        return import_jobs.progress_context(
            job,
            progress_url=reverse("admin:attendance_payment_import_progress", args=[job.pk]),
            errors_url=reverse("admin:attendance_payment_import_errors", args=[job.pk]),
            back_url=reverse("admin:attendance_payment_changelist"),
            back_label=_("ver os pagamentos"),
        )

    def import_job_view(self, request, pk):
        job = self._import_job_or_404(request, pk)
        context = {
            **self.admin_site.each_context(request),
            **self._import_progress_context(job),
            "title": str(job),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/attendance/payment/import_job.html", context)

    def import_progress_view(self, request, pk):
        job = self._import_job_or_404(request, pk)
        return TemplateResponse(request, "admin/core/walletimport/_progress.html", self._import_progress_context(job))

    def import_errors_view(self, request, pk):
        job = self._import_job_or_404(request, pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="importacao-pagamentos-{job.pk}-erros.csv"'
        import_jobs.write_error_report(job, response)
        return response

    def reverse_view(self, request, object_id):
        """Estorno: the kind and the reason, on a page of its own; supervisors and administrators only."""
        payment = (
            self.get_queryset(request)
            .select_related("client", "installment", "debt")
            .filter(pk=parse_id(object_id))
            .first()
        )
        if payment is None:
            raise Http404
        if not is_back_office(request.user) or not self.has_view_permission(request, payment):
            raise PermissionDenied
        change_url = reverse("admin:attendance_payment_change", args=[payment.pk])
        if payment.reversed_at is not None:
            messages.info(request, _("Este pagamento já foi estornado: nada mudou."))
            return HttpResponseRedirect(change_url)
        # The queue of pagamentos sem vínculo links a PIX devolução here with its kind and reason filled in.
        initial = {"kind": request.GET.get("kind", "")[:20], "reason": clean_text(request.GET.get("reason", ""))[:200]}
        form = ReversalForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            tenant = user_tenant(request.user) or payment.tenant
            try:
                payments.reverse_payment(
                    tenant, request.user, payment, kind=form.cleaned_data["kind"], reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(request, _("Pagamento estornado: %(p)s.") % {"p": payment})
                if payment.installment_id:
                    return HttpResponseRedirect(
                        reverse("admin:attendance_agreement_change", args=[payment.installment.agreement_id])
                    )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Estornar %(p)s") % {"p": payment},
            "opts": self.model._meta,
            "payment": payment,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/attendance/payment/reverse.html", context)

    def has_add_permission(self, request, *args):
        return user_tenant(request.user) is not None and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_export_permission(self, request):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        target = self._target(request)
        if request.method == "GET":
            if target is None:
                messages.info(request, _("Dê baixa a partir da parcela de um acordo ou de um título do cliente."))
            else:
                messages.info(request, target[0])
        extra_context = {**(extra_context or {}), "subtitle": target[0] if target else ""}
        return super().add_view(request, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        """The baixa starts from what is still open on the installment or título: usually the whole of it."""
        initial = super().get_changeform_initial_data(request)
        target = self._target(request)
        if target is not None:
            initial["amount"] = target[1]
        # What debtors pay with, by far: the supervisor changes it only for the odd boleto or transfer.
        initial.setdefault("method", Payment.Method.PIX)
        return initial

    def _target(self, request):
        """What the baixa pays, as (description, open amount), or None."""
        tenant = user_tenant(request.user)
        installment_id, debt_id = parse_id(request.GET.get("installment")), parse_id(request.GET.get("debt"))
        if installment_id is not None:
            inst = AgreementInstallment.objects.filter(agreement__tenant=tenant, pk=installment_id).first()
            return inst and (
                _("Baixa de %(i)s do acordo #%(a)s — em aberto %(v)s")
                % {
                    "i": inst,
                    "a": inst.agreement_id,
                    "v": format_brl(inst.open_amount),
                },
                inst.open_amount,
            )
        if debt_id is not None:
            debt = Debt.objects.filter(tenant=tenant, pk=debt_id).select_related("client").first()
            return debt and (
                _("Baixa do título %(d)s de %(c)s — em aberto %(v)s")
                % {
                    "d": debt,
                    "c": debt.client,
                    "v": format_brl(debt.open_amount),
                },
                debt.open_amount,
            )
        return None

    def save_model(self, request, obj, form, change):
        """The form already posted the payment through the service."""

    def log_addition(self, request, obj, message):
        if not getattr(obj, "posted_before", False):
            super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(obj, "posted_before", False):
            messages.info(request, _("Esta baixa já estava registrada (formulário enviado de novo): nada mudou."))
            return HttpResponseRedirect(reverse("admin:attendance_payment_changelist"))
        if obj.installment_id and not {"_continue", "_addanother"} & set(request.POST):
            # The baixa started from the agreement's schedule: back there, to see the installment paid.
            self.message_user(request, _("Baixa registrada: %(p)s.") % {"p": obj}, messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:attendance_agreement_change", args=[obj.installment.agreement_id])
            )
        return super().response_add(request, obj, post_url_continue)

    def get_import_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user), "user": request.user}

    @display(description=_("pago"))
    def display_target(self, obj):
        if obj.installment_id:
            return _("%(i)s do acordo #%(a)s") % {"i": obj.installment, "a": obj.installment.agreement_id}
        return _("Título %(d)s") % {"d": obj.debt}

    @display(description=_("valor"), ordering="amount")
    def display_amount(self, obj):
        return format_brl(obj.amount)


class MessageResource(resources.ModelResource):
    """WhatsApp history import: external_id of the client, direction, text, date and status."""

    # Exported from the message's client; on import it only names the client (before_import_row finds it).
    external_id = fields.Field(column_name="external_id", attribute="client__external_id", readonly=True)

    class Meta:
        model = Message
        fields = ("external_id", "direction", "body", "sent_at", "status", "phone")
        import_id_fields = ()
        use_transactions = True
        clean_model_instances = True  # a direction or status outside the choices is the row's error

    def __init__(self, tenant=None, **kwargs):
        super().__init__(**kwargs)
        self.tenant = tenant

    def get_queryset(self):
        return Message.objects.filter(tenant=self.tenant).select_related("client")

    def before_import_row(self, row, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa."))
        errors = clean_cells(row)
        if errors:
            raise ValidationError(errors)
        external_id = str(row.get("external_id") or "").strip()
        client = Client.objects.filter(tenant=self.tenant, external_id=external_id).only("pk").first()
        if client is None:
            raise ValidationError(_("Cliente não encontrado: %(id)s.") % {"id": external_id[:64]})
        row["_client_id"] = client.pk

    def init_instance(self, row=None):
        return Message(tenant=self.tenant, client_id=row["_client_id"])

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.sent_at is not None:
            check_date_window(instance.sent_at.date(), "data e hora")


@admin.register(Message)
class MessageAdmin(PartialImportMixin, TenantScopedAdmin, ImportExportModelAdmin):
    resource_classes = [MessageResource]
    import_form_class = BoundedImportForm
    export_form_class = ExportForm
    import_formats = WALLET_FORMATS
    export_formats = WALLET_FORMATS
    list_display = ("sent_at", "client", "direction", "status", "body")
    list_filter = (("direction", ChoicesDropdownFilter), ("status", ChoicesDropdownFilter))
    list_filter_submit = True
    list_select_related = ("client",)
    search_fields = ("client__name", "client__external_id", "body")
    raw_id_fields = ("client", "author")
    # What the channel reported (its id, the template sent, media, error, when it was read): a record, not an input.
    readonly_fields = ("external_id", "template", "media_type", "media_id", "error", "seen_at")
    show_full_result_count = False

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant": user_tenant(request.user)}


class ClientAccessLogResource(resources.ModelResource):
    accessed_at = fields.Field(column_name="quando", attribute="accessed_at")
    user = fields.Field(column_name="usuario", attribute="user__username")
    client_id = fields.Field(column_name="cliente_id", attribute="client_id")
    client = fields.Field(column_name="cliente", attribute="client__name")
    call_id = fields.Field(column_name="ligacao", attribute="call_id")
    kind = fields.Field(column_name="acesso_a", attribute="get_kind_display")

    class Meta:
        model = ClientAccessLog
        fields = ("accessed_at", "user", "client_id", "client", "call_id", "kind")


@admin.register(ClientAccessLog)
class ClientAccessLogAdmin(ReadOnlyMixin, TenantExportMixin, TenantScopedAdmin):
    """LGPD: who opened which client's page. Tenant admins only; filterable and exportable."""

    view_roles = frozenset({Role.ADMIN})
    edit_roles = frozenset()
    resource_classes = [ClientAccessLogResource]
    export_form_class = ExportForm
    export_formats = WALLET_FORMATS
    list_display = ("accessed_at", "user", "client", "kind", "call_id")
    list_filter = (("accessed_at", RangeDateTimeFilter), ("user", TenantRelatedFilter))
    list_filter_submit = True
    list_select_related = ("user", "client")
    search_fields = ("client__name", "client__external_id", "user__username")
    show_full_result_count = False

    def has_module_permission(self, request):
        return is_tenant_admin(request.user) and request.user.is_staff
