"""The WhatsApp keys of a tenant's settings (Meta's Cloud API): what they must hold and the connection they describe.

The access token and the app secret are encrypted at rest (tenants.secrets) and never shown back.
"""

import dataclasses
import re
from urllib.parse import urlparse

from django.conf import settings as django_settings
from django.http.request import validate_host
from django.utils.translation import gettext as _

from tenants import secrets

PHONE_NUMBER_ID = "whatsapp_phone_number_id"
WABA_ID = "whatsapp_waba_id"
ACCESS_TOKEN = "whatsapp_access_token"
APP_SECRET = "whatsapp_app_secret"
VERIFY_TOKEN = "whatsapp_verify_token"
BASE_URL = "whatsapp_base_url"
SECRET_KEYS = (ACCESS_TOKEN, APP_SECRET)
GRAPH_ROOT = "https://graph.facebook.com/v21.0"
GRAPH_HOST = "graph.facebook.com"
NUMERIC_ID_RE = re.compile(r"^[0-9]{5,20}$")
VERIFY_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]{8,128}$")


@dataclasses.dataclass(frozen=True)
class WhatsAppConfig:
    base_url: str
    phone_number_id: str
    waba_id: str
    token: str
    app_secret: str

    def __repr__(self):  # never print the token or the secret, even in a traceback
        return f"WhatsAppConfig(base_url={self.base_url!r}, phone_number_id={self.phone_number_id!r})"


def url_allowed(url: str) -> bool:
    """Where the access token may go: graph.facebook.com over HTTPS; any host while the sandbox is on; the hosts
    WHATSAPP_ALLOWED_HOSTS names (a staging stand-in)."""
    if django_settings.DIALER_SANDBOX:
        return True
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme == "https" and host == GRAPH_HOST and parsed.username is None:
        return True
    return parsed.scheme in ("http", "https") and validate_host(host, django_settings.WHATSAPP_ALLOWED_HOSTS)


def _secret_problem(value: str) -> str:
    if not 8 <= len(value) <= 1024 or any(c.isspace() for c in value):
        return _("Valor inválido: cole o valor gerado no painel da Meta (sem espaços).")
    return ""


def clean(result: dict, stored: dict) -> dict:
    """Normalize the WhatsApp keys of `result` in place; returns {key: message} for the invalid ones."""
    errors = {}
    for key in SECRET_KEYS:
        if error := secrets.clean_secret(result, stored, key, _secret_problem):
            errors[key] = error

    for key, label in ((PHONE_NUMBER_ID, _("O ID do número")), (WABA_ID, _("O ID da conta WhatsApp Business"))):
        value = result.get(key)
        if value in (None, ""):
            result.pop(key, None)
            continue
        value = str(value).strip()
        if not (value.isascii() and NUMERIC_ID_RE.match(value)):
            errors[key] = _("%(label)s tem só dígitos, como aparece no painel da Meta.") % {"label": label}
        result[key] = value

    verify = result.get(VERIFY_TOKEN)
    if verify in (None, ""):
        result.pop(VERIFY_TOKEN, None)
    elif not isinstance(verify, str) or not VERIFY_TOKEN_RE.match(verify.strip()):
        errors[VERIFY_TOKEN] = _("O token de verificação tem de 8 a 128 letras, dígitos, ponto, hífen ou sublinhado.")
    else:
        result[VERIFY_TOKEN] = verify.strip()

    base_url = result.get(BASE_URL)
    if base_url in (None, ""):
        result.pop(BASE_URL, None)
    else:
        base_url = str(base_url).strip().rstrip("/")
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or not url_allowed(base_url):
            errors[BASE_URL] = _("Use o endereço da Graph API, como https://graph.facebook.com/v21.0.")
        result[BASE_URL] = base_url
    return errors


def whatsapp_config(settings: dict) -> WhatsAppConfig | None:
    """The tenant's WhatsApp connection, or None while it is not configured. Raises SecretError."""
    if not (settings.get(PHONE_NUMBER_ID) and settings.get(ACCESS_TOKEN)):
        return None
    return WhatsAppConfig(
        base_url=(settings.get(BASE_URL) or GRAPH_ROOT).rstrip("/"),
        phone_number_id=settings[PHONE_NUMBER_ID],
        waba_id=settings.get(WABA_ID, ""),
        token=secrets.decrypt(settings[ACCESS_TOKEN]),
        app_secret=secrets.decrypt(settings[APP_SECRET]) if settings.get(APP_SECRET) else "",
    )
