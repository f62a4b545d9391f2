"""The payments provider keys of a tenant's settings: what they hold and the connection they describe.

Secrets (client secret, certificate and private key of the mTLS pair) are stored encrypted (tenants.secrets)
and never shown back. The PIX key charged is the tenant's PIX key (tenants.settings_schema.PIX_KEY).
"""

import dataclasses
import secrets as std_secrets
from urllib.parse import urlparse

from django.conf import settings as django_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants import secrets
from tenants.settings_schema import PIX_KEY

PROVIDER = "payments_provider"
BASE_URL = "payments_base_url"
CLIENT_ID = "payments_client_id"
CLIENT_SECRET = "payments_client_secret"
CERTIFICATE = "payments_certificate"
PRIVATE_KEY = "payments_private_key"
BOLETO_ENABLED = "payments_boleto"
BOLETO_BASE_URL = "payments_boleto_base_url"
WEBHOOK_SALT = "payments_webhook_salt"
REQUIRE_MTLS = "payments_webhook_mtls"
SECRET_KEYS = (CLIENT_SECRET, CERTIFICATE, PRIVATE_KEY)

API_PIX = "api_pix"  # any PSP that follows the Banco Central's standard
EFI = "efi"  # Efí (ex-Gerencianet): the standard, with its hosts and its OAuth path
PROVIDERS = {
    API_PIX: gettext_lazy("API Pix (padrão do Banco Central)"),
    EFI: gettext_lazy("Efí (Gerencianet)"),
}
EFI_PRODUCTION = "https://pix.api.efipay.com.br"
EFI_HOMOLOGATION = "https://pix-h.api.efipay.com.br"
PEM_MAX = 16_384


@dataclasses.dataclass(frozen=True)
class ProviderConfig:
    provider: str
    base_url: str
    client_id: str
    client_secret: str
    certificate: str
    private_key: str
    pix_key: str
    boleto_base_url: str

    def __repr__(self):  # never print a secret, even in a traceback
        return f"ProviderConfig(provider={self.provider!r}, base_url={self.base_url!r}, client_id={self.client_id!r})"


def _url(value, field: str, errors: dict) -> str | None:
    value = str(value).strip().rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username is not None:
        errors[field] = _("Informe uma URL completa, como https://api.psp.com.br.")
        return None
    if parsed.scheme == "http" and not django_settings.DIALER_SANDBOX:
        errors[field] = _("Use HTTPS: o padrão do PIX exige TLS.")
        return None
    return value


def _secret_problem(key: str, value: str) -> str:
    if not value or len(value) > PEM_MAX:
        return _("Valor inválido (texto de até %(n)s caracteres).") % {"n": PEM_MAX}
    if key != CLIENT_SECRET and "-----BEGIN" not in value:
        return _("Cole o conteúdo PEM (começa com -----BEGIN).")
    return ""


def clean(result: dict, stored: dict) -> dict:
    """Normalize the provider keys of `result` in place; {key: message} for the invalid ones."""
    errors = {}
    provider = result.get(PROVIDER)
    if provider in (None, ""):
        result.pop(PROVIDER, None)
    elif provider not in PROVIDERS:
        errors[PROVIDER] = _("Provedor desconhecido.")
    for key in SECRET_KEYS:
        if error := secrets.clean_secret(result, stored, key, lambda value, key=key: _secret_problem(key, value)):
            errors[key] = error
    for key in (BASE_URL, BOLETO_BASE_URL):
        if result.get(key) in (None, ""):
            result.pop(key, None)
        else:
            cleaned = _url(result[key], key, errors)
            if cleaned:
                result[key] = cleaned
    client_id = result.get(CLIENT_ID)
    if client_id in (None, ""):
        result.pop(CLIENT_ID, None)
    elif not isinstance(client_id, str) or len(client_id) > 200 or not client_id.isprintable():
        errors[CLIENT_ID] = _("Client ID inválido.")
    else:
        result[CLIENT_ID] = client_id.strip()
    for key in (BOLETO_ENABLED, REQUIRE_MTLS):
        if key in result:
            result[key] = result[key] in (True, "true", "on", "1", 1)
            if not result[key]:
                result.pop(key)
    if result.get(PROVIDER) and not result.get(WEBHOOK_SALT):
        result[WEBHOOK_SALT] = stored.get(WEBHOOK_SALT) or std_secrets.token_hex(8)
    if result.get(PROVIDER) == API_PIX and not result.get(BASE_URL) and PROVIDER not in errors:
        errors[BASE_URL] = _("Informe a URL da API Pix do seu PSP.")
    return errors


def base_url(settings: dict) -> str:
    if settings.get(BASE_URL):
        return settings[BASE_URL]
    if settings.get(PROVIDER) == EFI:
        return EFI_PRODUCTION
    return ""


def is_configured(settings: dict) -> bool:
    return bool(settings.get(PROVIDER) and settings.get(CLIENT_ID) and settings.get(CLIENT_SECRET))


def provider_config(settings: dict) -> ProviderConfig | None:
    """The tenant's provider connection, or None while it is not configured. Raises SecretError."""
    if not is_configured(settings) or not base_url(settings):
        return None
    return ProviderConfig(
        provider=settings[PROVIDER],
        base_url=base_url(settings),
        client_id=settings[CLIENT_ID],
        client_secret=secrets.decrypt(settings[CLIENT_SECRET]),
        certificate=secrets.decrypt(settings[CERTIFICATE]) if settings.get(CERTIFICATE) else "",
        private_key=secrets.decrypt(settings[PRIVATE_KEY]) if settings.get(PRIVATE_KEY) else "",
        pix_key=str(settings.get(PIX_KEY, "")),
        boleto_base_url=settings.get(BOLETO_BASE_URL) or base_url(settings),
    )
