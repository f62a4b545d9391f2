import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.parsing import EARLIEST_DATE, LATEST_DATE, in_date_window, parse_id
from core.models import Creditor
from dashboard.rollups import MAX_DAYS
from dashboard.selectors import Filters
from dialer.models import DialerExport
from tenants.models import Role, Tenant

PERIODS = [("hoje", _("Hoje")), ("7d", _("7 dias")), ("30d", _("30 dias")), ("personalizado", _("Personalizado"))]
PERIOD_DAYS = {"hoje": 1, "7d": 7, "30d": 30}
DEFAULT_PERIOD = "7d"


class DashboardFilterForm(forms.Form):
    """The period and filters of the dashboard, every choice limited to what the user's tenant owns."""

    empresa = forms.ModelChoiceField(
        Tenant.objects.filter(active=True), required=False, label=_("Empresa"), empty_label=_("Todas")
    )
    periodo = forms.ChoiceField(choices=PERIODS, required=False, initial=DEFAULT_PERIOD, label=_("Período"))
    inicio = forms.DateField(required=False, label=_("De"), widget=forms.DateInput(attrs={"type": "date"}))
    fim = forms.DateField(required=False, label=_("Até"), widget=forms.DateInput(attrs={"type": "date"}))
    credor = forms.ModelChoiceField(Creditor.objects.none(), required=False, label=_("Credor"), empty_label=_("Todos"))
    campanha = forms.TypedChoiceField(choices=[], coerce=int, required=False, empty_value=None, label=_("Campanha"))
    operador = forms.ModelChoiceField(
        get_user_model().objects.none(), required=False, label=_("Operador"), empty_label=_("Todos")
    )
    envio = forms.ModelChoiceField(
        DialerExport.objects.none(), required=False, label=_("Envio"), empty_label=_("Todos")
    )

    def __init__(self, data, *, user, tenant):
        super().__init__(data)
        if not user.is_superuser:
            del self.fields["empresa"]
        elif parse_id(data.get("empresa")) is not None:
            tenant = Tenant.objects.filter(pk=parse_id(data["empresa"])).first()
        self.tenant = tenant
        scoped = (lambda qs: qs) if tenant is None else (lambda qs: qs.filter(tenant=tenant))
        self.fields["credor"].queryset = scoped(Creditor.objects.all()).order_by("name")
        self.fields["envio"].queryset = scoped(DialerExport.objects.all()).order_by("-created_at")
        operators = get_user_model().objects.filter(membership__role=Role.OPERATOR).order_by("first_name", "username")
        if tenant is not None:
            operators = operators.filter(membership__tenant=tenant)
        self.fields["operador"].queryset = operators
        self.fields["operador"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
        campaigns = scoped(DialerExport.objects.all()).values_list("campaign_id", "campaign_name").distinct()
        choices = {campaign_id: name or str(campaign_id) for campaign_id, name in campaigns.order_by("campaign_id")}
        self.fields["campanha"].choices = [("", _("Todas")), *choices.items()]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        period = data.get("periodo") or DEFAULT_PERIOD
        if period == "personalizado":
            start, end = data.get("inicio"), data.get("fim")
            if not start or not end:
                raise forms.ValidationError(_("Informe o início e o fim do período."))
            if not (in_date_window(start) and in_date_window(end)):
                raise forms.ValidationError(
                    _("Escolha datas entre %(first)s e %(last)s.")
                    % {"first": EARLIEST_DATE.strftime("%d/%m/%Y"), "last": LATEST_DATE.strftime("%d/%m/%Y")}
                )
            if start > end:
                raise forms.ValidationError(_("O início deve ser antes do fim."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("O período pode ter no máximo um ano."))
        else:
            end = today
            start = today - datetime.timedelta(days=PERIOD_DAYS[period] - 1)
        data["start"], data["end"], data["periodo"] = start, end, period
        return data

    def filters(self) -> Filters:
        """The validated filters; with invalid input, the default period and no filter."""
        today = timezone.localdate()
        if not self.is_valid():
            return Filters(tenant=self.tenant, start=today - datetime.timedelta(days=6), end=today)
        data = self.cleaned_data
        return Filters(
            tenant=self.tenant,
            start=data["start"],
            end=data["end"],
            creditor_id=data["credor"].pk if data.get("credor") else None,
            campaign_id=data.get("campanha"),
            operator_id=data["operador"].pk if data.get("operador") else None,
            export_id=data["envio"].pk if data.get("envio") else None,
        )
