"""The WhatsApp section of the tenant's settings page: its fields, "Testar conexão" and the webhook address."""

from urllib.parse import urlparse

from django import forms
from django.conf import settings
from django.conf import settings as django_settings
from django.contrib.admin import display
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from common.parsing import try_parse_phone
from messaging import settings_schema
from messaging.channels import SMS_ACCOUNT, SMS_BASE_URL, SMS_FROM, SMS_TOKEN
from messaging.settings_schema import ACCESS_TOKEN, APP_SECRET, BASE_URL, PHONE_NUMBER_ID, VERIFY_TOKEN, WABA_ID
from tenants import secrets
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


class SmsSection(SettingsSection):
    """SMS through Twilio (messaging/channels.py): the account SID, the auth token (encrypted) and the sender."""

    title = _("SMS (Twilio)")
    secret_keys = (SMS_TOKEN,)
    schema = {
        SMS_ACCOUNT: {"type": "string", "title": "SID da conta Twilio"},
        SMS_TOKEN: {"type": "string", "title": "Token de autenticação Twilio (mascarado)"},
        SMS_FROM: {"type": "string", "title": "Número remetente do SMS"},
        SMS_BASE_URL: {"type": "string", "title": "URL da API de SMS (opcional)"},
    }

    def clean(self, result, stored):
        errors = {}
        token = result.get(SMS_TOKEN)
        if token in (None, "") or secrets.is_mask(token):
            if stored.get(SMS_TOKEN):
                result[SMS_TOKEN] = stored[SMS_TOKEN]
            else:
                result.pop(SMS_TOKEN, None)
        elif secrets.is_encrypted(token):
            if token != stored.get(SMS_TOKEN):
                errors[SMS_TOKEN] = _("Cole o valor em texto; o valor criptografado não pode ser editado.")
        elif not isinstance(token, str) or not 8 <= len(token.strip()) <= 200 or not token.strip().isascii():
            errors[SMS_TOKEN] = _("Token inválido: cole o token de autenticação da Twilio.")
        else:
            result[SMS_TOKEN] = secrets.encrypt(token.strip())
        account = result.get(SMS_ACCOUNT)
        if account in (None, ""):
            result.pop(SMS_ACCOUNT, None)
        elif not (isinstance(account, str) and account.isascii() and account.isalnum() and len(account) <= 64):
            errors[SMS_ACCOUNT] = _("O SID da conta tem só letras e dígitos (AC…).")
        sender = result.get(SMS_FROM)
        if sender in (None, ""):
            result.pop(SMS_FROM, None)
        else:
            parsed = try_parse_phone(str(sender))
            if parsed is None:
                errors[SMS_FROM] = _("Número remetente inválido: use DDD e número.")
            result[SMS_FROM] = parsed or sender
        base_url = result.get(SMS_BASE_URL)
        if base_url in (None, ""):
            result.pop(SMS_BASE_URL, None)
        else:
            base_url = str(base_url).strip().rstrip("/")
            parsed_url = urlparse(base_url)
            allowed = django_settings.DIALER_SANDBOX or (
                parsed_url.scheme == "https" and parsed_url.hostname == "api.twilio.com"
            )
            if parsed_url.scheme not in ("http", "https") or not parsed_url.netloc or not allowed:
                errors[SMS_BASE_URL] = _("Use o endereço da API da Twilio, https://api.twilio.com/2010-04-01.")
            result[SMS_BASE_URL] = base_url
        return errors

    def form_fields(self):
        text = {"required": False, "widget": UnfoldAdminTextInputWidget}
        return {
            SMS_ACCOUNT: forms.CharField(label=_("SID da conta"), **text),
            SMS_TOKEN: forms.CharField(
                label=_("Token de autenticação"),
                required=False,
                widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
            ),
            SMS_FROM: forms.CharField(label=_("Número remetente"), **text),
            SMS_BASE_URL: forms.CharField(label=_("URL da API (opcional)"), **text),
        }
