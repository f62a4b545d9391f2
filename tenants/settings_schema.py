"""Tenant settings (the planning document's tenants.settings): validation and 3C Plus configuration."""

import dataclasses
import math
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
# PIX receiver of the "copia e cola" codes offered for agreement installments.
PIX_KEY = "pix_key"
PIX_NAME = "pix_nome_recebedor"
PIX_CITY = "pix_cidade_recebedor"
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


MAX_JSON_DEPTH = 16


def json_problem(value, depth: int = 0) -> str | None:
    """Why a JSON value cannot be stored (PostgreSQL refuses NaN and NUL; deep nesting is a trap), or None."""
    if depth > MAX_JSON_DEPTH:
        return _("O JSON tem mais de %(n)d níveis aninhados.") % {"n": MAX_JSON_DEPTH}
    if isinstance(value, float) and not math.isfinite(value):
        return _("O JSON tem um número inválido (NaN, Infinity ou grande demais).")
    if isinstance(value, str) and "\x00" in value:
        return _("O JSON tem um caractere nulo (\\u0000).")
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_problem(key, depth) or json_problem(item, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def clean_settings(new: dict, stored: dict | None = None) -> dict:
    """Validate a settings object; encrypt a new token, keep the stored one when the token is blank or masked.

    Raises ValidationError with one message per field.
    """
    if not isinstance(new, dict):
        raise ValidationError(_('As configurações devem ser um objeto JSON, por exemplo {"chave": "valor"}.'))
    problem = json_problem(new)
    if problem:
        raise ValidationError({"settings": problem})
    stored = stored or {}
    result = dict(new)
    errors = {}

    for key in SECRET_KEYS:
        token = result.get(key)
        if token in (None, "") or secrets.is_mask(token):
            if stored.get(key):
                result[key] = stored[key]
            else:
                result.pop(key, None)
        elif secrets.is_encrypted(token):
            if token != stored.get(key):
                errors[key] = _("Cole o token em texto; o valor criptografado não pode ser editado.")
        elif not isinstance(token, str) or len(token.strip()) < 8 or any(c.isspace() for c in token.strip()):
            errors[key] = _("Token inválido: cole o token de serviço do 3C Plus (sem espaços).")
        else:
            result[key] = secrets.encrypt(token.strip())

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

    errors.update(_clean_pix(result))

    if errors:
        raise ValidationError(errors)
    return result


def _clean_pix(result: dict) -> dict:
    """Normalize the PIX keys in place; {key: message} for the invalid ones."""
    errors = {}
    for key, limit in ((PIX_KEY, 77), (PIX_NAME, 25), (PIX_CITY, 15)):
        value = result.get(key)
        if value in (None, ""):
            result.pop(key, None)
            continue
        value = str(value).strip()
        if len(value) > limit:
            errors[key] = _("No máximo %(n)s caracteres.") % {"n": limit}
        result[key] = value
    if result.get(PIX_KEY):
        if any(c.isspace() for c in result[PIX_KEY]):
            errors[PIX_KEY] = _(
                "A chave PIX não tem espaços: CPF/CNPJ só com dígitos, +55DDNÚMERO, e-mail ou chave aleatória."
            )
        for key, label in ((PIX_NAME, _("o nome do recebedor")), (PIX_CITY, _("a cidade do recebedor"))):
            if not result.get(key):
                errors[key] = _("Com chave PIX, informe também %(what)s.") % {"what": label}
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


def masked(settings: dict) -> dict:
    """The settings as they may be shown: the token masked."""
    shown = dict(settings)
    for key in SECRET_KEYS:
        if shown.get(key):
            shown[key] = secrets.mask(shown[key])
    return shown
