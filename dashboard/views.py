"""The dashboard on the admin's home (unfold's DASHBOARD_CALLBACK), the operators' CSV and an export's funnel."""

import csv
import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from attendance.models import Agreement
from common.parsing import parse_id
from common.replica import replica_reads
from common.spreadsheets import neutralize_row
from dashboard import selectors, services
from dashboard.forms import DEFAULT_PERIOD, PERIODS, DashboardFilterForm
from dialer.models import DialerExport
from tenants.roles import is_back_office, user_tenant

FUNNEL_LABELS = {
    "sent": gettext_lazy("Enviados"),
    "dialled": gettext_lazy("Discados"),
    "answered": gettext_lazy("Atendidos"),
    "right_party": gettext_lazy("Contato com o devedor"),
    "agreement": gettext_lazy("Acordo"),
    "paid": gettext_lazy("Pagaram"),
}


OPERATOR_COLUMNS = [
    ("operador", gettext_lazy("Operador")),
    ("ligacoes", gettext_lazy("Ligações")),
    ("falado", gettext_lazy("Tempo falado")),
    ("tabulacoes", gettext_lazy("Tabulações")),
    ("acordos", gettext_lazy("Acordos")),
    ("valor", gettext_lazy("Acordos (R$)")),
    ("retornos", gettext_lazy("Retornos pendentes")),
]


def duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _form(request) -> DashboardFilterForm:
    data = request.GET.copy()
    # The select must show the period the figures are for: the default one when none (or an unknown one) is asked.
    if data.get("periodo") not in dict(PERIODS):
        data["periodo"] = DEFAULT_PERIOD
    return DashboardFilterForm(data, user=request.user, tenant=user_tenant(request.user))


def _require_back_office(request):
    if not is_back_office(request.user):
        raise PermissionDenied


def dashboard_callback(request, context):
    if not is_back_office(request.user):
        return context
    with replica_reads(request):  # the streaming replica, when one is configured and fresh (common/replica.py)
        return _dashboard(request, context)


def _dashboard(request, context):
    form = _form(request)
    f = form.filters()
    figures = services.figures(f)
    operator_sort = request.GET.get("ordem", "operador")
    operators = selectors.sort_operators(figures.per_operator(), _sort_key(operator_sort))
    for row in operators:
        row["talk_display"] = duration(row["talk_seconds"])
    context["dashboard"] = {
        "form": form,
        "filters": f,
        "summary": figures.summary(),
        "daily_chart": json.dumps(daily_chart(figures.daily())),
        "hourly_chart": json.dumps(hourly_chart(figures.hourly())),
        "daily_options": chart_options(_("Dia"), _("Quantidade")),
        "hourly_options": chart_options(_("Hora do dia"), _("Taxa de contato (%)"), legend=False),
        "types": selectors.disposition_types(f),
        "operators": operators,
        "operator_columns": OPERATOR_COLUMNS,
        "operator_sort": operator_sort,
        "live": live_context(f.tenant),
        "pending_approvals": selectors.pending_approvals(f),
        "pending_url": reverse("admin:attendance_agreement_changelist")
        + f"?status__exact={Agreement.Status.PENDING_APPROVAL}",
        "query": request.GET.urlencode(),
        "query_without_sort": _without(request.GET, "ordem"),
    }
    return context


SORT_PARAMS = {
    "operador": "operator",
    "ligacoes": "calls",
    "falado": "talk_seconds",
    "tabulacoes": "dispositions",
    "acordos": "agreements",
    "valor": "agreements_amount",
    "retornos": "callbacks_pending",
}


def _sort_key(param: str) -> str:
    descending = param.startswith("-")
    field = SORT_PARAMS.get(param.lstrip("-"), "operator")
    return f"-{field}" if descending else field


def _without(query, key) -> str:
    query = query.copy()
    query.pop(key, None)
    return query.urlencode()


def chart_options(x_title: str, y_title: str, *, legend: bool = True) -> str:
    """Chart.js options with the legend and both axes named: unfold's defaults hide the legend and the y values,
    which left a chart nobody could read."""
    axis = {"display": True, "ticks": {"display": True, "color": "#6b7280"}, "grid": {"display": True}}
    return json.dumps(
        {
            "responsive": True,
            "plugins": {
                "legend": {"display": legend, "position": "top", "align": "start"},
                "tooltip": {"enabled": True},
            },
            "scales": {
                "x": {**axis, "title": {"display": True, "text": x_title}},
                "y": {**axis, "beginAtZero": True, "title": {"display": True, "text": y_title}},
            },
        }
    )


def daily_chart(days: list[dict]) -> dict:
    return {
        "labels": [formats.date_format(day["day"], "d/m") for day in days],
        "datasets": [
            {"label": _("Discadas"), "data": [d["dialled"] for d in days], "borderColor": "var(--color-primary-700)"},
            {"label": _("Atendidas"), "data": [d["answered"] for d in days], "borderColor": "var(--color-primary-400)"},
            {"label": _("Contato com o devedor"), "data": [d["right_party"] for d in days], "borderColor": "#f59e0b"},
            {"label": _("Acordos"), "data": [d["agreements"] for d in days], "borderColor": "#10b981"},
        ],
    }


def hourly_chart(hours: list[dict]) -> dict:
    return {
        "labels": [f"{h['hour']:02d}h" for h in hours],
        "datasets": [
            {
                "label": _("Taxa de contato (%)"),
                "data": [float(h["contact_rate"] or 0) for h in hours],
                "backgroundColor": "var(--color-primary-600)",
            }
        ],
    }


def operators_csv(request):
    _require_back_office(request)
    form = _form(request)
    f = form.filters()
    types = selectors.disposition_types(f)
    rows = selectors.sort_operators(services.per_operator(f), _sort_key(request.GET.get("ordem", "operador")))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="operadores_{f.start:%Y%m%d}_{f.end:%Y%m%d}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with the BOM
    writer = csv.writer(response, delimiter=";")
    header = [_("Operador"), _("Ligações"), _("Tempo falado (s)"), *[t.name for t in types], _("Tabulações")]
    writer.writerow(neutralize_row([*header, _("Acordos"), _("Acordos (R$)"), _("Retornos pendentes")]))
    for row in rows:
        cells = [row["operator"], row["calls"], row["talk_seconds"], *row["by_type"], row["dispositions"]]
        cells += [row["agreements"], formats.number_format(row["agreements_amount"], 2), row["callbacks_pending"]]
        writer.writerow(neutralize_row(cells))
    return response


def live_context(tenant) -> dict:
    figures = selectors.live(tenant)
    age = figures["webhook_last_age"]
    figures["webhook_last_age"] = duration(age.total_seconds()) if age is not None else None
    return figures


def live_panel(request):
    """The live panel alone, polled by the home page."""
    _require_back_office(request)
    tenant = _form(request).tenant
    return render(request, "admin/dashboard/live.html", {"dashboard": {"live": live_context(tenant)}})


def export_funnel(request, object_id):
    _require_back_office(request)
    exports = DialerExport.objects.all()
    if not request.user.is_superuser:
        exports = exports.filter(tenant=user_tenant(request.user))
    export_id = parse_id(object_id)
    export = exports.filter(pk=export_id).first() if export_id is not None else None
    if export is None:
        raise Http404
    funnel = selectors.export_funnel(export)
    first = funnel[0][1]
    steps = [
        {"label": str(FUNNEL_LABELS[key]), "count": count, "percent": selectors.rate(count, first)}
        for key, count in funnel
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Funil do envio #%(id)s") % {"id": export.pk},
        "export": export,
        "steps": steps,
        "chart": json.dumps(
            {
                "labels": [step["label"] for step in steps],
                "datasets": [
                    {
                        "label": _("Clientes"),
                        "data": [step["count"] for step in steps],
                        "backgroundColor": "var(--color-primary-600)",
                    }
                ],
            }
        ),
        "chart_options": chart_options(_("Etapa"), _("Clientes"), legend=False),
        "export_url": reverse("admin:dialer_dialerexport_change", args=[export.pk]),
    }
    return render(request, "admin/dashboard/export_funnel.html", context)


def cadence_results(request):
    """The régua's results per step and channel (messaging.results), for the back office."""
    from messaging.results import results

    _require_back_office(request)
    tenant = user_tenant(request.user)
    days = request.GET.get("dias", "7")
    days = int(days) if days.isascii() and days.isdigit() and len(days) <= 2 and 1 <= int(days) <= 90 else 7
    context = {
        **admin.site.each_context(request),
        "title": _("Régua: resultados"),
        "rows": results(tenant, days=days) if tenant is not None else [],
        "days": days,
    }
    return render(request, "admin/dashboard/cadence_results.html", context)
