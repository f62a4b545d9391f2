"""The 3C Plus keys of a tenant's settings: what they must hold, and the connection they describe.

tenants.settings_schema.clean_settings runs `clean` through the section dialer/settings_admin.py registers.
"""

import dataclasses
import re
from urllib.parse import urlparse

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.http.request import validate_host
from django.utils.translation import gettext as _

from tenants import secrets

API_KEY = "threecplus_api_key"
DOMAIN = "threecplus_domain"
CAMPAIGN = "threecplus_campaign_id"
BASE_URL = "threecplus_base_url"
AGENT_TOKEN = "threecplus_agent_token"  # a service token with the agent role, for qualifying calls
SECRET_KEYS = (API_KEY, AGENT_TOKEN)
SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
THREECPLUS_HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.3c\.plus$")


@dataclasses.dataclass(frozen=True)
class ThreeCPlusConfig:
    base_url: str
    token: str
    campaign_id: int | None

    def __repr__(self):  # never print the token, even in a traceback
        return f"ThreeCPlusConfig(base_url={self.base_url!r}, token='{secrets.MASK}', campaign_id={self.campaign_id})"


def api_url_allowed(url: str) -> bool:
    """Where the 3C Plus token may be sent: a company's 3C Plus host over HTTPS; any host while the sandbox is
    on (development); the hosts the environment names in THREECPLUS_ALLOWED_HOSTS (staging, a stand-in)."""
    if django_settings.DIALER_SANDBOX:
        return True
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        return False
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https") or not host or parsed.username is not None:
        return False
    if parsed.scheme == "https" and port in (None, 443) and THREECPLUS_HOST_RE.match(host):
        return True
    return validate_host(host, django_settings.THREECPLUS_ALLOWED_HOSTS)


def _validate_url(value: str, field: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError({field: _("Informe uma URL completa, como https://empresa.3c.plus/api/v1.")})
    if not api_url_allowed(value):
        raise ValidationError({field: _("Use o endereço do 3C Plus da empresa, como https://empresa.3c.plus/api/v1.")})
    return value.rstrip("/")


def _token_problem(token: str) -> str:
    if len(token) < 8 or any(c.isspace() for c in token):
        return _("Token inválido: cole o token de serviço do 3C Plus (sem espaços).")
    return ""


def clean(result: dict, stored: dict) -> dict:
    """Normalize the 3C Plus keys of `result` in place: encrypt a new token, keep the stored one when the token
    is blank or masked. Returns {key: message} for the invalid ones."""
    errors = {}

    for key in SECRET_KEYS:
        if error := secrets.clean_secret(result, stored, key, _token_problem, what=_("o token")):
            errors[key] = error

    domain = result.get(DOMAIN)
    if domain not in (None, ""):
        if not isinstance(domain, str):
            errors[DOMAIN] = _('O domínio deve ser um texto, como "minhaempresa".')
        else:
            domain = domain.strip().lower()
            if domain.startswith(("http://", "https://")):
                try:
                    domain = _validate_url(domain, DOMAIN)
                except ValidationError as error:
                    errors.update(error.message_dict)
            elif not SUBDOMAIN_RE.match(domain):
                errors[DOMAIN] = _(
                    'Domínio inválido: use só o subdomínio da empresa ("minhaempresa" para minhaempresa.3c.plus) '
                    "ou a URL completa."
                )
            result[DOMAIN] = domain
    else:
        result.pop(DOMAIN, None)

    campaign = result.get(CAMPAIGN)
    if campaign not in (None, ""):
        try:
            result[CAMPAIGN] = int(str(campaign).strip())
            if result[CAMPAIGN] <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors[CAMPAIGN] = _("A campanha padrão deve ser o número (ID) da campanha no 3C Plus.")
    else:
        result.pop(CAMPAIGN, None)

    base_url = result.get(BASE_URL)
    if base_url not in (None, ""):
        try:
            result[BASE_URL] = _validate_url(str(base_url).strip(), BASE_URL)
        except ValidationError as error:
            errors.update(error.message_dict)
    else:
        result.pop(BASE_URL, None)

    return errors


def api_root(settings: dict) -> str | None:
    """The API root: the override, else the domain (a subdomain or a full URL)."""
    if settings.get(BASE_URL):
        return settings[BASE_URL].rstrip("/")
    domain = settings.get(DOMAIN)
    if not domain:
        return None
    if domain.startswith(("http://", "https://")):
        root = domain.rstrip("/")
        return root if root.endswith("/api/v1") else root + "/api/v1"
    return f"https://{domain}.3c.plus/api/v1"


def threecplus_config(settings: dict) -> ThreeCPlusConfig | None:
    """The tenant's 3C Plus connection, or None while it is not configured."""
    root = api_root(settings)
    stored = settings.get(API_KEY)
    if not root or not stored:
        return None
    return ThreeCPlusConfig(base_url=root, token=secrets.decrypt(stored), campaign_id=settings.get(CAMPAIGN))
