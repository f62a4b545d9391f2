"""The payments provider section of the tenant's settings page: credentials (secrets encrypted, never shown back),
"Testar conexão" and the webhook address. Registered from PaymentsConfig.ready()."""

from django import forms
from django.contrib.admin import display
from django.http import Http404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from payments import provider, settings_schema
from payments.settings_schema import (
    BASE_URL,
    BOLETO_BASE_URL,
    BOLETO_ENABLED,
    CERTIFICATE,
    CLIENT_ID,
    CLIENT_SECRET,
    PRIVATE_KEY,
    PROVIDER,
    REQUIRE_MTLS,
)
from tenants.secrets import mask
from tenants.settings_schema import SettingsSection


@display(description=_("Conexão com o PSP"))
def connection_test(tenant):
    if tenant is None or tenant.pk is None:
        return _("Salve a empresa para testar a conexão.")
    return render_to_string("admin/payments/_test_button.html", {"tenant": tenant})


@display(description=_("Webhook de PIX recebidos"))
def webhook(tenant):
    if tenant is None or tenant.pk is None or not tenant.setting(PROVIDER):
        return "—"
    return render_to_string("admin/payments/_webhook.html", {"url": provider.webhook_url(tenant)})


class KeepWhenAbsent(forms.CharField):
    """A post without this input (a script, a page from before it existed) leaves the stored value alone."""

    def has_changed(self, initial, data):
        return data is not None and super().has_changed(initial, data)


class FlagField(forms.ChoiceField):
    """Sim/Não as a select: a checkbox cannot tell "unticked" from "not on this page"."""

    def __init__(self, **kwargs):
        super().__init__(
            choices=[("", _("Não")), ("true", _("Sim"))], required=False, widget=UnfoldAdminSelectWidget, **kwargs
        )

    def has_changed(self, initial, data):
        return data is not None and str(initial or "") != str(data or "")


class PaymentsSection(SettingsSection):
    title = _("Provedor de pagamentos (PIX e boleto)")
    secret_keys = settings_schema.SECRET_KEYS
    schema = {
        PROVIDER: {"type": "string", "title": "Provedor de pagamentos"},
        BASE_URL: {"type": "string", "title": "URL da API Pix do PSP"},
        CLIENT_ID: {"type": "string", "title": "Client ID do PSP"},
        CLIENT_SECRET: {"type": "string", "title": "Client secret do PSP (mascarado)"},
        CERTIFICATE: {"type": "string", "title": "Certificado mTLS (mascarado)"},
        PRIVATE_KEY: {"type": "string", "title": "Chave privada mTLS (mascarada)"},
        BOLETO_ENABLED: {"type": "boolean", "title": "Emitir boleto por parcela"},
        BOLETO_BASE_URL: {"type": "string", "title": "URL da API de boletos"},
        REQUIRE_MTLS: {"type": "boolean", "title": "Exigir mTLS no webhook"},
    }

    def clean(self, result, stored):
        return settings_schema.clean(result, stored)

    def form_fields(self):
        secret = {"required": False, "strip": True}
        return {
            PROVIDER: forms.ChoiceField(
                label=_("Provedor"),
                required=False,
                choices=[("", _("— nenhum (PIX estático) —")), *settings_schema.PROVIDERS.items()],
                widget=UnfoldAdminSelectWidget,
                help_text=_("Sem provedor, as parcelas mostram o PIX estático da chave da empresa."),
            ),
            BASE_URL: KeepWhenAbsent(
                label=_("URL da API Pix"),
                required=False,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("A raiz da API Pix do PSP (sem /v2). Efí: vazio usa https://pix.api.efipay.com.br."),
            ),
            CLIENT_ID: KeepWhenAbsent(label=_("Client ID"), required=False, widget=UnfoldAdminTextInputWidget),
            CLIENT_SECRET: forms.CharField(
                label=_("Client secret"),
                widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
                **secret,
            ),
            CERTIFICATE: forms.CharField(
                label=_("Certificado (PEM) para mTLS"),
                widget=UnfoldAdminTextareaWidget(attrs={"rows": 3, "autocomplete": "off"}),
                **secret,
            ),
            PRIVATE_KEY: forms.CharField(
                label=_("Chave privada (PEM) para mTLS"),
                widget=UnfoldAdminTextareaWidget(attrs={"rows": 3, "autocomplete": "off"}),
                **secret,
            ),
            BOLETO_ENABLED: FlagField(label=_("Emitir boleto por parcela")),
            BOLETO_BASE_URL: KeepWhenAbsent(
                label=_("URL da API de boletos"),
                required=False,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("Vazio: a mesma da API Pix."),
            ),
            REQUIRE_MTLS: FlagField(
                label=_("Exigir mTLS no webhook"),
                help_text=_("Só aceita o webhook com o certificado do PSP verificado pelo proxy TLS."),
            ),
        }

    def prepare_form(self, form, stored):
        super().prepare_form(form, stored)
        for key in (BOLETO_ENABLED, REQUIRE_MTLS):
            form.initial[key] = "true" if stored.get(key) else ""
        for key in settings_schema.SECRET_KEYS:
            current = mask(stored.get(key))
            form.fields[key].help_text = (
                _("Atual: %(mask)s. Deixe em branco para manter; cole um novo para trocar.") % {"mask": current}
                if current
                else _("Não configurado.")
            )

    def displays(self):
        return (connection_test, webhook)

    def admin_urls(self, model_admin):
        def test_view(request, pk):
            tenant = model_admin.get_queryset(request).filter(pk=pk).first()
            if tenant is None or not model_admin.has_change_permission(request, tenant):
                raise Http404
            context = {
                **model_admin.admin_site.each_context(request),
                "tenant": tenant,
                "result": provider.test_connection(tenant),
                "opts": model_admin.opts,
                "title": _("Teste de conexão com o provedor de pagamentos"),
            }
            template = "_test_result.html" if request.headers.get("HX-Request") else "test_page.html"
            return TemplateResponse(request, "admin/payments/" + template, context)

        return [
            path(
                "<int:pk>/testar-pagamentos/",
                model_admin.admin_site.admin_view(test_view),
                name="tenants_tenant_test_payments",
            )
        ]
