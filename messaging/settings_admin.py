"""The WhatsApp section of the tenant's settings page: its fields, "Testar conexão" and the webhook address."""

from django import forms
from django.conf import settings
from django.contrib.admin import display
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from messaging import settings_schema
from messaging.settings_schema import ACCESS_TOKEN, APP_SECRET, BASE_URL, PHONE_NUMBER_ID, VERIFY_TOKEN, WABA_ID
from tenants.secrets import mask
from tenants.settings_schema import SettingsSection


def test_connection(tenant) -> dict:
    """GET the phone number and the approved templates with the saved settings: {"ok", ...} or {"ok": False,
    "error"}. Outside any transaction (the admin view is not atomic)."""
    from messaging.errors import MessagingError
    from messaging.services import whatsapp_api

    try:
        with whatsapp_api(tenant) as api:
            number = api.phone_number()
            templates = api.approved_templates()
    except MessagingError as error:
        return {"ok": False, "error": error.message}
    return {"ok": True, "number": number, "templates": templates, "app_secret": bool(tenant.setting(APP_SECRET))}


@display(description=_("Conexão com o WhatsApp"))
def connection_test(tenant):
    if tenant is None or tenant.pk is None:
        return _("Salve a empresa para testar a conexão.")
    url = reverse("admin:tenants_tenant_test_whatsapp", args=[tenant.pk])
    return format_html(
        '<a href="{}" hx-get="{}" hx-target="#whatsapp-result" role="button" data-testid="test-whatsapp" '
        'class="inline-block font-medium px-3 py-2 rounded-default bg-primary-600 text-white">{}</a>'
        '<div id="whatsapp-result" class="mt-3" aria-live="polite"></div>',
        url,
        url,
        _("Testar conexão com o WhatsApp"),
    )


@display(description=_("Webhook do WhatsApp"))
def webhook(tenant):
    if tenant is None or tenant.pk is None:
        return "—"
    url = settings.PUBLIC_BASE_URL + reverse("whatsapp_webhook", args=[tenant.pk])
    return format_html(
        "<code>{}</code><br>{}",
        url,
        _(
            "No app da Meta (WhatsApp → Configuração): URL de callback acima, o token de verificação desta seção, "
            "e assine o campo “messages”."
        ),
    )


class WhatsAppSection(SettingsSection):
    title = _("WhatsApp (API oficial da Meta)")
    secret_keys = settings_schema.SECRET_KEYS
    schema = {
        PHONE_NUMBER_ID: {"type": "string", "title": "ID do número de telefone (WhatsApp)"},
        WABA_ID: {"type": "string", "title": "ID da conta WhatsApp Business"},
        ACCESS_TOKEN: {"type": "string", "title": "Token de acesso do WhatsApp (mascarado)"},
        APP_SECRET: {"type": "string", "title": "Chave secreta do app da Meta (mascarada)"},
        VERIFY_TOKEN: {"type": "string", "title": "Token de verificação do webhook do WhatsApp"},
        BASE_URL: {"type": "string", "title": "URL da Graph API (opcional)"},
    }

    def clean(self, result, stored):
        return settings_schema.clean(result, stored)

    def form_fields(self):
        text = {"required": False, "widget": UnfoldAdminTextInputWidget}
        secret = {
            "required": False,
            "strip": True,
            "widget": UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        }
        return {
            PHONE_NUMBER_ID: forms.CharField(label=_("ID do número de telefone"), **text),
            WABA_ID: forms.CharField(label=_("ID da conta WhatsApp Business (WABA)"), **text),
            ACCESS_TOKEN: forms.CharField(label=_("Token de acesso"), **secret),
            APP_SECRET: forms.CharField(label=_("Chave secreta do app"), **secret),
            VERIFY_TOKEN: forms.CharField(
                label=_("Token de verificação do webhook"),
                help_text=_("Invente um texto (8 a 128 caracteres) e cole o mesmo no app da Meta."),
                **text,
            ),
            BASE_URL: forms.CharField(
                label=_("URL da Graph API (opcional)"),
                help_text=_("Vazio: https://graph.facebook.com/v21.0. O sandbox do WhatsApp ou um ambiente de testes."),
                **text,
            ),
        }

    def prepare_form(self, form, stored):
        super().prepare_form(form, stored)
        for key in self.secret_keys:
            current = mask(stored.get(key))
            if key in form.fields:
                form.fields[key].help_text = (
                    _("Atual: %(mask)s. Deixe em branco para manter; cole um novo para trocar.") % {"mask": current}
                    if current
                    else _("Cole o valor do painel da Meta (mostrado só uma vez por lá).")
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
                "result": test_connection(tenant),
                "opts": model_admin.opts,
                "title": _("Teste de conexão com o WhatsApp"),
            }
            if request.headers.get("HX-Request"):
                return TemplateResponse(request, "admin/messaging/_whatsapp_result.html", context)
            return TemplateResponse(request, "admin/messaging/whatsapp_test.html", context)

        return [
            path(
                "<int:pk>/testar-whatsapp/",
                model_admin.admin_site.admin_view(test_view),
                name="tenants_tenant_test_whatsapp",
            )
        ]
