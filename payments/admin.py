from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import display
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminIntegerFieldWidget

from attendance.models import AgreementInstallment, Payment
from common.parsing import format_brl
from payments import cnab, receiving
from payments.models import Charge, ReceivedPayment, UnmatchedPayment
from tenants.admin_base import ReadOnlyMixin, TenantScopedAdmin
from tenants.roles import user_tenant


@admin.register(Charge)
class ChargeAdmin(ReadOnlyMixin, TenantScopedAdmin):
    list_display = ("txid", "kind", "status", "display_amount", "due_date", "installment", "error")
    list_filter = ("kind", "status")
    search_fields = ("txid", "bank_number", "installment__agreement__client__name")
    list_select_related = ("installment",)
    show_full_result_count = False
    exclude = ("pix_code",)

    @display(description=gettext_lazy("valor"))
    def display_amount(self, obj):
        return format_brl(obj.amount)


class CnabUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Arquivo de retorno CNAB 240"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > cnab.MAX_BYTES:
            raise ValidationError(_("Arquivo grande demais (máximo de 10 MB)."))
        return upload


@admin.register(ReceivedPayment)
class ReceivedPaymentAdmin(ReadOnlyMixin, TenantScopedAdmin):
    list_display = ("received_at", "source", "external_id", "txid", "display_amount", "paid_on", "status", "error")
    list_filter = ("source", "status")
    search_fields = ("external_id", "txid")
    show_full_result_count = False
    exclude = ("raw",)

    @display(description=gettext_lazy("valor"))
    def display_amount(self, obj):
        return format_brl(obj.amount)

    def get_urls(self):
        return [
            path(
                "importar-cnab/",
                self.admin_site.admin_view(self.cnab_view),
                name="payments_receivedpayment_cnab",
            ),
            *super().get_urls(),
        ]

    def cnab_view(self, request):
        if not self._role_allows(request, self.edit_roles):
            raise PermissionDenied
        tenant = user_tenant(request.user)
        if tenant is None:
            raise PermissionDenied
        summary = None
        form = CnabUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            content = form.cleaned_data["file"].read(cnab.MAX_BYTES + 1)
            summary = receiving.import_cnab(tenant, request.user, content)
            messages.success(
                request,
                _("Retorno lido: %(p)s lançado(s), %(u)s sem vínculo, %(r)s já lido(s), %(e)s linha(s) com erro.")
                % {
                    "p": summary["posted"],
                    "u": summary["unmatched"],
                    "r": summary["repeated"],
                    "e": len(summary["errors"]),
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "summary": summary,
            "opts": self.opts,
            "title": _("Importar retorno CNAB 240 (boletos pagos)"),
        }
        return TemplateResponse(request, "admin/payments/cnab_upload.html", context)


class ResolveForm(forms.Form):
    agreement = forms.IntegerField(label=gettext_lazy("Acordo nº"), min_value=1, widget=UnfoldAdminIntegerFieldWidget)
    number = forms.IntegerField(
        label=gettext_lazy("Parcela (0 = entrada)"), min_value=0, max_value=999, widget=UnfoldAdminIntegerFieldWidget
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        installment = (
            AgreementInstallment.objects.filter(
                agreement__tenant=self.tenant, agreement_id=cleaned["agreement"], number=cleaned["number"]
            )
            .select_related("agreement")
            .first()
        )
        if installment is None:
            raise ValidationError(_("Parcela não encontrada nos acordos da empresa."))
        cleaned["installment"] = installment
        return cleaned


@admin.register(UnmatchedPayment)
class UnmatchedPaymentAdmin(TenantScopedAdmin):
    """Pagamentos sem vínculo: money that arrived and matched nothing; a supervisor links it to an installment."""

    list_display = ("received_at", "source", "external_id", "txid", "display_amount", "paid_on", "error", "resolve")
    search_fields = ("external_id", "txid")
    show_full_result_count = False
    exclude = ("raw",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            # A devolução names the PIX it returns (txid holds its endToEndId): the payment that PIX posted.
            .annotate(
                refunded_payment=Subquery(
                    ReceivedPayment.objects.filter(
                        tenant_id=OuterRef("tenant_id"), external_id=OuterRef("txid"), payment__isnull=False
                    ).values("payment_id")[:1]
                )
            )
            .filter(
                status__in=[
                    ReceivedPayment.Status.UNMATCHED,
                    ReceivedPayment.Status.FAILED,
                    ReceivedPayment.Status.REFUND,
                ]
            )
        )

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # resolved on its own page, never edited

    @display(description=gettext_lazy("valor"))
    def display_amount(self, obj):
        return format_brl(obj.amount)

    @display(description=gettext_lazy("vincular"))
    def resolve(self, obj):
        if obj.status == ReceivedPayment.Status.REFUND:
            if obj.refunded_payment is None:
                return _("Devolução: estorne o pagamento")
            query = urlencode(
                {"kind": Payment.ReversalKind.PIX_REFUND, "reason": _("Devolução PIX %(id)s") % {"id": obj.external_id}}
            )
            url = reverse("admin:attendance_payment_reverse", args=[obj.refunded_payment])
            return format_html('<a class="text-primary-600" href="{}?{}">{}</a>', url, query, _("Estornar o pagamento"))
        url = reverse("admin:payments_unmatchedpayment_resolve", args=[obj.pk])
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, _("Vincular a uma parcela"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/vincular/",
                self.admin_site.admin_view(self.resolve_view),
                name="payments_unmatchedpayment_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request, pk):
        if not self._role_allows(request, self.edit_roles):
            raise PermissionDenied
        tenant = user_tenant(request.user)
        received = self.get_queryset(request).filter(pk=pk).exclude(status=ReceivedPayment.Status.REFUND).first()
        if received is None or tenant is None:
            raise Http404
        form = ResolveForm(request.POST or None, tenant=tenant)
        if request.method == "POST" and form.is_valid():
            try:
                receiving.resolve(tenant, request.user, received, form.cleaned_data["installment"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Pagamento lançado na parcela."))
                return HttpResponseRedirect(reverse("admin:payments_unmatchedpayment_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "received": received,
            "opts": self.opts,
            "title": _("Vincular pagamento a uma parcela"),
        }
        return TemplateResponse(request, "admin/payments/resolve.html", context)
