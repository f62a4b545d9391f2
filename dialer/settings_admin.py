"""The 3C Plus section of the tenant's settings page: its fields, "Testar conexão" and the webhook address.

Registered with tenants.settings_schema from DialerConfig.ready(); tenants shows it without importing the dialer.
"""

from django import forms
from django.conf import settings
from django.contrib.admin import display
from django.http import Http404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from dialer import eligibility, settings_schema, setup_checklist
from dialer.errors import DialerError
from dialer.forms import campaign_label
from dialer.models import CallSync
from dialer.settings_schema import AGENT_TOKEN, API_KEY, BASE_URL, CAMPAIGN, DOMAIN
from dialer.tenant_api import campaigns, is_configured, test_connection
from tenants.secrets import mask
from tenants.settings_schema import NOT_FETCHED, SettingsSection, fetched

TEMPLATES = "admin/dialer/tenant_settings/"


@display(description=_("Conexão"))
def connection_test(tenant):
    if tenant is None or tenant.pk is None:
        return _("Salve a empresa para testar a conexão.")
    return render_to_string(TEMPLATES + "_connection_test_button.html", {"tenant": tenant})


@display(description=_("Webhook do 3C Plus"))
def webhook(tenant):
    if tenant is None or tenant.pk is None:
        return "—"
    url = settings.PUBLIC_BASE_URL + reverse("threecplus_webhook", args=[tenant.webhook_secret])
    return render_to_string(TEMPLATES + "_webhook.html", {"tenant": tenant, "url": url})


@display(description=_("Configuração no 3C Plus"))
def setup_guide(tenant):
    if tenant is None or tenant.pk is None:
        return "—"
    return render_to_string(TEMPLATES + "_setup_guide.html", {"guide": setup_checklist.guide(tenant)})


@display(description=_("Leitura das ligações"))
def reconciliation(tenant):
    """How far the reconciliation (GET /calls) has read this tenant's calls, and what went wrong last: the admin
    sees here why calls qualified inside 3C Plus do not show up."""
    if tenant is None or tenant.pk is None:
        return "—"
    sync = CallSync.objects.filter(tenant=tenant).first()
    return render_to_string(TEMPLATES + "_reconciliation.html", {"sync": sync})


class CallingHoursWidget(forms.MultiWidget):
    """One text input per kind of day, each with its label (the JSON holds them as one object). An empty box is a day
    without calls, so it reads "fechado" (a time as placeholder looked like a window that would apply)."""

    template_name = "dialer/calling_hours_widget.html"  # app templates: the form renderer reads those

    def __init__(self):
        super().__init__(
            [
                UnfoldAdminTextInputWidget(attrs={"placeholder": _("fechado"), "data_label": label.capitalize()})
                for label in eligibility.DAY_KINDS.values()
            ]
        )

    def decompress(self, value):
        hours = {**eligibility.DEFAULT_HOURS, **(value if isinstance(value, dict) else {})}
        return [hours.get(kind, "") for kind in eligibility.DAY_KINDS]

    def value_from_datadict(self, data, files, name):
        # A post without these inputs (a script, a page from before they existed) leaves the hours alone; a
        # browser always sends them, empty ones included.
        if not any(f"{name}_{index}" in data for index in range(len(self.widgets))):
            return None
        return super().value_from_datadict(data, files, name)


class CallingHoursField(forms.MultiValueField):
    widget = CallingHoursWidget

    def __init__(self, **kwargs):
        fields = [forms.CharField(required=False) for _kind in eligibility.DAY_KINDS]
        super().__init__(fields=fields, require_all_fields=False, required=False, **kwargs)

    def has_changed(self, initial, data):
        return data is not None and super().has_changed(initial, data)

    def compress(self, data_list):
        values = list(data_list) + [""] * (len(eligibility.DAY_KINDS) - len(data_list))
        return {kind: (value or "").strip() for kind, value in zip(eligibility.DAY_KINDS, values, strict=True)}


class CallingRulesSection(SettingsSection):
    """The hours and limits the eligibility applies (dialer/eligibility.py): fields of their own, checked on save.

    No editor schema: the JSON editor would fill the limits in with zeros."""

    title = _("Regras de discagem")

    def clean(self, result, stored):
        return eligibility.clean_calling_rules(result)

    def form_fields(self):
        limit = {
            "required": False,
            "min_value": 0,
            "max_value": eligibility.MAX_CALLS_LIMIT,
            "widget": UnfoldAdminIntegerFieldWidget,
        }
        return {
            eligibility.HOURS_KEY: CallingHoursField(
                label=_("Horários de discagem"),
                help_text=_(
                    "O horário da própria empresa, na hora local do cliente (pela UF), como 08:00-20:00, ou turnos "
                    "separados por vírgula, como 08:00-12:00, 14:00-18:00; vazio: fechado, não disca nesse dia. "
                    "Vale junto com a lei de cada estado: disca-se só quando os dois permitem (janelas por UF e "
                    "feriados municipais no menu do Discador). Feriados nacionais, do estado e do município do "
                    "cliente seguem a linha de feriados."
                ),
            ),
            eligibility.PER_DAY_KEY: forms.IntegerField(
                label=_("Máximo de ligações por cliente por dia"), help_text=_("Vazio ou 0: sem limite."), **limit
            ),
            eligibility.PER_WEEK_KEY: forms.IntegerField(
                label=_("Máximo de ligações por cliente por semana"), help_text=_("Vazio ou 0: sem limite."), **limit
            ),
        }

    def prepare_form(self, form, stored):
        super().prepare_form(form, stored)
        # Unset hours show (and, saved unchanged, store) the defaults the eligibility already applies.
        form.initial[eligibility.HOURS_KEY] = {**eligibility.DEFAULT_HOURS, **(stored.get(eligibility.HOURS_KEY) or {})}


class ThreeCPlusSection(SettingsSection):
    title = _("3C Plus")
    secret_keys = settings_schema.SECRET_KEYS
    schema = {
        API_KEY: {"type": "string", "title": "Token do 3C Plus (mascarado; troque colando um novo)"},
        DOMAIN: {"type": "string", "title": "Domínio do 3C Plus"},
        CAMPAIGN: {"type": "integer", "title": "Campanha padrão (ID)"},
        BASE_URL: {"type": "string", "title": "URL da API (opcional)"},
        AGENT_TOKEN: {"type": "string", "title": "Token de agente (mascarado)"},
    }

    def clean(self, result, stored):
        return settings_schema.clean(result, stored)

    def form_fields(self):
        return {
            DOMAIN: forms.CharField(
                label=_("Domínio"),
                required=False,
                widget=UnfoldAdminTextInputWidget,
                help_text=_(
                    'O subdomínio da empresa no 3C Plus: "minhaempresa" para minhaempresa.3c.plus. '
                    "Uma URL completa também serve."
                ),
            ),
            API_KEY: forms.CharField(
                label=_("Token da API"),
                required=False,
                strip=True,
                widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
            ),
            CAMPAIGN: forms.CharField(
                label=_("Campanha padrão (ID)"),
                required=False,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("Salve o token e o domínio para escolher entre as campanhas do 3C Plus."),
            ),
            BASE_URL: forms.CharField(
                label=_("URL da API (opcional)"),
                required=False,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("Substitui o domínio: o sandbox do 3C Plus ou um ambiente de testes."),
            ),
            AGENT_TOKEN: forms.CharField(
                label=_("Token de agente (qualificação)"),
                required=False,
                strip=True,
                widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=_(
                    "O 3C Plus só aceita a qualificação de uma ligação com a credencial do agente: um token de "
                    "serviço com papel de agente, enviado junto com o ID de agente de cada operador (cadastrado "
                    "no usuário)."
                ),
            ),
        }

    def prepare_form(self, form, stored):
        super().prepare_form(form, stored)
        for key in (API_KEY, AGENT_TOKEN):
            current = mask(stored.get(key))
            form.fields[key].help_text = (
                _("Atual: %(mask)s. Deixe em branco para manter; cole um novo para trocar.") % {"mask": current}
                if current
                else _("Cole o token de serviço gerado no 3C Plus (mostrado só uma vez por lá).")
            ) + (" " + str(form.fields[key].help_text) if key == AGENT_TOKEN else "")
        self._campaign_choice(form, stored)

    def fetch(self, tenant):
        """The campaigns 3C Plus lists now (or the DialerError saying why not); None before it is configured."""
        if tenant is None or tenant.pk is None or not is_configured(tenant):
            return None
        try:
            return campaigns(tenant)
        except DialerError as error:
            return error

    def _campaign_choice(self, form, stored):
        """The default campaign is picked among those 3C Plus lists now, paused ones marked; typed as an id only
        when they cannot be listed (nothing saved yet, or 3C Plus unreachable: the reason is shown)."""
        form.paused_campaigns = {}
        listed = fetched(self)
        if listed is NOT_FETCHED:
            listed = self.fetch(form.instance)
        if listed is None:
            return
        if isinstance(listed, DialerError):
            form.fields[CAMPAIGN].help_text = _(
                "Não foi possível listar as campanhas do 3C Plus (%(error)s): informe o ID da campanha."
            ) % {"error": listed.message}
            return
        current = stored.get(CAMPAIGN)
        choices = [("", _("— nenhuma —")), *((str(c["id"]), campaign_label(c)) for c in listed)]
        if current and all(c["id"] != current for c in listed):
            choices.append((str(current), _("Campanha %(id)s (não encontrada no 3C Plus)") % {"id": current}))
        form.fields[CAMPAIGN] = forms.ChoiceField(
            label=_("Campanha padrão"),
            required=False,
            choices=choices,
            widget=UnfoldAdminSelectWidget,
            help_text=_("As campanhas que o 3C Plus lista agora. Uma campanha pausada não disca até ser retomada."),
        )
        form.paused_campaigns = {c["id"]: c["name"] for c in listed if c["paused"]}

    def warnings(self, form, settings: dict) -> list[str]:
        paused = getattr(form, "paused_campaigns", {}).get(settings.get(CAMPAIGN))
        if paused is None:
            return []
        return [
            _("A campanha padrão “%(name)s” está pausada no 3C Plus: o discador só liga quando ela for retomada.")
            % {"name": paused}
        ]

    def displays(self):
        return (connection_test, webhook, setup_guide, reconciliation)

    def admin_urls(self, model_admin):
        def test_connection_view(request, pk):
            tenant = model_admin.get_queryset(request).filter(pk=pk).first()
            if tenant is None or not model_admin.has_change_permission(request, tenant):
                raise Http404
            result = test_connection(tenant)
            context = {
                **model_admin.admin_site.each_context(request),
                "tenant": tenant,
                "result": result,
                "checks": setup_checklist.run(tenant, result),
                "opts": model_admin.opts,
                "title": _("Teste de conexão com o 3C Plus"),
            }
            template = "_connection_result.html" if request.headers.get("HX-Request") else "connection_test.html"
            return TemplateResponse(request, TEMPLATES + template, context)

        return [
            path(
                "<int:pk>/testar-3cplus/",
                model_admin.admin_site.admin_view(test_connection_view),
                name="tenants_tenant_test_connection",
            )
        ]
