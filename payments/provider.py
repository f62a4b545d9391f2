"""A tenant's link to its payments provider: whether it is configured, the API built from its settings, the webhook
address (and its check), and the connection test of the settings page."""

import hashlib
import hmac
import logging

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from payments import settings_schema
from payments.client import PixAPI, api_for_config
from payments.errors import NotConfiguredError, ProviderError
from tenants.models import Tenant
from tenants.secrets import SecretError

logger = logging.getLogger(__name__)


def is_configured(tenant) -> bool:
    return settings_schema.is_configured(tenant.stored_settings)


def configured_tenants():
    return Tenant.objects.filter(active=True, settings__has_key=settings_schema.PROVIDER)


def boleto_enabled(tenant) -> bool:
    return bool(tenant.setting(settings_schema.BOLETO_ENABLED))


def api_for(tenant, **kwargs) -> PixAPI:
    """The provider's API with the tenant's credentials. Raises NotConfiguredError."""
    try:
        config = settings_schema.provider_config(tenant.stored_settings)
    except SecretError:
        raise NotConfiguredError(_("As credenciais salvas não puderam ser lidas com a chave atual.")) from None
    if config is None:
        raise NotConfiguredError(_("A empresa não tem um provedor de pagamentos configurado."))
    if not config.pix_key:
        raise NotConfiguredError(_("Configure a chave PIX da empresa: as cobranças são feitas nela."))
    return api_for_config(config, **kwargs)


def webhook_token(tenant) -> str:
    """<tenant id>.<HMAC>: the receiver finds the tenant and checks the HMAC (constant time) before reading the body.
    Saving a new salt in the settings rotates it."""
    salt = str(tenant.setting(settings_schema.WEBHOOK_SALT, ""))
    digest = hmac.new(settings.SECRET_KEY.encode(), f"pix-webhook:{tenant.pk}:{salt}".encode(), hashlib.sha256)
    return f"{tenant.pk}.{digest.hexdigest()[:40]}"


def tenant_for_webhook(token: str):
    """The active tenant whose webhook token this is, or None."""
    tenant_id, _dot, _digest = token.partition(".")
    if not (tenant_id.isascii() and tenant_id.isdigit() and len(tenant_id) < 19):
        return None
    tenant = Tenant.objects.filter(pk=int(tenant_id), active=True).first()
    if tenant is None or not tenant.setting(settings_schema.PROVIDER):
        return None
    return tenant if hmac.compare_digest(webhook_token(tenant), token) else None


def webhook_url(tenant) -> str:
    """The URL registered at the PSP (the PSP appends /pix when it calls it)."""
    return settings.PUBLIC_BASE_URL + reverse("pix_webhook", args=[webhook_token(tenant)])


def test_connection(tenant) -> dict:
    """Token (OAuth2 over mTLS), then the webhook registered for the tenant's key: {"ok", "checks": [(ok, text)]}."""
    checks = []
    try:
        with api_for(tenant) as api:
            api.token()
            checks.append((True, _("Autenticação OAuth2 aceita pelo PSP.")))
            api.put_webhook(api.config.pix_key, webhook_url(tenant))
            checks.append((True, _("Webhook registrado para a chave PIX: %(url)s") % {"url": webhook_url(tenant)}))
    except ProviderError as error:
        logger.info("Teste do provedor de pagamentos da empresa %s: %s", tenant.slug, error.message)
        checks.append((False, error.message))
    return {"ok": all(ok for ok, _text in checks), "checks": checks}
