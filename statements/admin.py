"""Prestação de contas in the admin: the closed statements, and a month of a creditor (open or closed) with its
figures, the XLSX and PDF files and the closing. Supervisors and administrators only."""

import datetime
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from common.parsing import EARLIEST_DATE, format_brl
from core.models import Creditor
from statements import exports, services
from statements.models import Statement
from tenants.admin_base import ReadOnlyMixin, TenantRelatedFilter, TenantScopedAdmin, scope_queryset

MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class MonthForm(forms.Form):
    creditor = forms.ModelChoiceField(label=_("Credor"), queryset=Creditor.objects.none())
    month = forms.CharField(
        label=_("Mês"),
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        error_messages={"required": _("Informe o mês (aaaa-mm).")},
    )

    def __init__(self, *args, creditors=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = creditors

    def clean_month(self):
        match = MONTH.fullmatch(self.cleaned_data["month"].strip())
        try:
            month = datetime.date(int(match[1]), int(match[2]), 1) if match else None
        except ValueError:
            month = None
        if month is None:
            raise ValidationError(_("Informe o mês como aaaa-mm (por exemplo, 2026-11)."))
        if not EARLIEST_DATE <= month <= timezone.localdate():
            raise ValidationError(_("Escolha um mês entre 01/1990 e o mês atual."))
        return month


@admin.register(Statement)
class StatementAdmin(ReadOnlyMixin, TenantScopedAdmin):
    list_display = (
        "month_display",
        "creditor",
        "display_received",
        "display_fees",
        "display_repasse",
        "closed_at",
        "display_open",
    )
    fields = (
        "creditor",
        "month",
        "received",
        "reversed_amount",
        "principal",
        "interest",
        "fine",
        "fees",
        "credit",
        "repasse",
        "closed_at",
        "closed_by",
        "display_open",
    )
    readonly_fields = ("display_open",)
    list_select_related = ("creditor",)
    list_filter = (("creditor", TenantRelatedFilter),)
    change_list_template = "admin/statements/statement/change_list.html"
    show_full_result_count = False

    @display(description=_("mês"), ordering="month")
    def month_display(self, obj):
        return obj.month.strftime("%m/%Y")

    @display(description=_("recebido"), ordering="received")
    def display_received(self, obj):
        return format_brl(obj.received)

    @display(description=_("honorários"), ordering="fees")
    def display_fees(self, obj):
        return format_brl(obj.fees)

    @display(description=_("repasse devido"), ordering="repasse")
    def display_repasse(self, obj):
        return format_brl(obj.repasse)

    @display(description=_("lançamentos e arquivos"))
    def display_open(self, obj):
        query = urlencode({"creditor": obj.creditor_id, "month": obj.month.strftime("%Y-%m")})
        return format_html(
            '<a class="underline" href="{}?{}">{}</a>',
            reverse("admin:statements_statement_month"),
            query,
            _("Ver o mês, baixar XLSX ou PDF"),
        )

    def get_urls(self):
        return [
            path("mes/", self.admin_site.admin_view(self.month_view), name="statements_statement_month"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "month_url": reverse("admin:statements_statement_month")}
        return super().changelist_view(request, extra_context)

    def month_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        creditors = scope_queryset(Creditor.objects.all(), request).order_by("name")
        data = request.POST if request.method == "POST" else (request.GET if "creditor" in request.GET else None)
        form = MonthForm(data, creditors=creditors)
        figures = None
        if form.is_valid():
            creditor, month = form.cleaned_data["creditor"], form.cleaned_data["month"]
            tenant = creditor.tenant
            if request.method == "POST":
                if not self.has_add_permission_to_close(request):
                    raise PermissionDenied
                try:
                    services.close_month(tenant, request.user, creditor, month)
                except ValidationError as error:
                    messages.error(request, " ".join(error.messages))
                else:
                    messages.success(
                        request, _("Prestação de contas de %(m)s fechada.") % {"m": month.strftime("%m/%Y")}
                    )
                query = urlencode({"creditor": creditor.pk, "month": month.strftime("%Y-%m")})
                return HttpResponseRedirect(f"{reverse('admin:statements_statement_month')}?{query}")
            figures = services.statement(tenant, creditor, month)
            file_format = request.GET.get("formato")
            if file_format in ("xlsx", "pdf"):
                return self._download(tenant, figures, file_format)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Prestação de contas"),
            "opts": self.model._meta,
            "form": form,
            "figures": figures,
            "summary": exports.summary_rows(figures) if figures else [],
            "can_close": figures is not None and figures.closed is None and self.has_add_permission_to_close(request),
            "query": urlencode({"creditor": figures.creditor.pk, "month": figures.month.strftime("%Y-%m")})
            if figures
            else "",
        }
        return TemplateResponse(request, "admin/statements/statement/month.html", context)

    def has_add_permission_to_close(self, request) -> bool:
        return self._role_allows(request, self.edit_roles)

    def _download(self, tenant, figures, file_format: str) -> HttpResponse:
        name = f"prestacao-de-contas-{figures.creditor.pk}-{figures.month:%Y-%m}.{file_format}"
        if file_format == "xlsx":
            body = exports.to_xlsx(tenant, figures)
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body = exports.to_pdf(tenant, figures)
            content_type = "application/pdf"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
