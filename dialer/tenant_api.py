"""A tenant's link to 3C Plus: whether it is configured, the API object built from its settings, the
connection test and the campaign list every screen and command offers."""

import logging

from django.utils.translation import gettext as _

from dialer.client import ThreeCPlusAPI
from dialer.errors import (
    DialerError,
    MalformedResponseError,
    NotConfiguredError,
    UnexpectedResponseError,
    ValidationError,
)
from dialer.settings_schema import AGENT_TOKEN, API_KEY, api_root, threecplus_config
from tenants import secrets
from tenants.models import Tenant
from tenants.secrets import SecretError

logger = logging.getLogger(__name__)


def not_campaigns_message() -> str:
    return _("A resposta não é uma lista de campanhas do 3C Plus: confira a URL da API.")


def not_configured_message() -> str:
    return _("A empresa ainda não tem o 3C Plus configurado (domínio e token).")


def unreadable_token_message() -> str:
    return _("O token salvo não pôde ser lido com a chave atual (FIELD_ENCRYPTION_KEY).")


def is_configured(tenant) -> bool:
    """The tenant uses 3C Plus: its token is saved (the domain may still be missing; api_for says so)."""
    return bool(tenant.setting(API_KEY))


def configured_tenants():
    """The active tenants that use 3C Plus: is_configured, in SQL."""
    return Tenant.objects.filter(active=True, settings__has_key=API_KEY)


def api_for(tenant, **kwargs) -> ThreeCPlusAPI:
    """The 3C Plus API with the tenant's manager token. Raises NotConfiguredError."""
    try:
        config = threecplus_config(tenant.stored_settings) if is_configured(tenant) else None
    except SecretError:
        raise NotConfiguredError(unreadable_token_message()) from None
    if config is None:
        raise NotConfiguredError(not_configured_message())
    return ThreeCPlusAPI(config.base_url, config.token, **kwargs)


def agent_api_for(tenant, agent_id: str, **kwargs) -> ThreeCPlusAPI:
    """3C Plus takes agent commands only from an agent-role service token plus X-Agent-Id."""
    root = api_root(tenant.stored_settings)
    if not is_configured(tenant) or not root or not tenant.setting(AGENT_TOKEN):
        raise NotConfiguredError(_("A empresa não tem o token de agente do 3C Plus configurado."))
    try:
        token = secrets.decrypt(tenant.setting(AGENT_TOKEN))
    except SecretError:
        raise NotConfiguredError(unreadable_token_message()) from None
    return ThreeCPlusAPI(root, token, agent_id=agent_id, **kwargs)


def campaigns(tenant) -> list[dict]:
    """The tenant's 3C Plus campaigns as {"id", "name", "paused"}. Raises DialerError.

    Only ids, names and the paused flag are kept, checked: whatever answers at the URL (a proxy, an internal
    service) never has its body echoed to a page.
    """
    try:
        with api_for(tenant) as api:
            found = api.list_campaigns()
    except NotConfiguredError:
        raise
    except MalformedResponseError as error:  # its excerpt is the body: not for this page
        logger.info("Campanhas 3C Plus da empresa %s: %s", tenant.slug, error.message)
        raise DialerError(not_campaigns_message()) from error
    except (ValidationError, UnexpectedResponseError) as error:  # their messages quote the body
        logger.info("Campanhas 3C Plus da empresa %s: %s", tenant.slug, error.message)
        raise DialerError(
            _("O 3C Plus respondeu com o erro %(status)s.") % {"status": error.status}, status=error.status
        ) from error
    except DialerError as error:
        logger.info("Campanhas 3C Plus da empresa %s: %s", tenant.slug, error.message)
        raise
    if not all(isinstance(c, dict) and type(c.get("id")) is int and isinstance(c.get("name"), str) for c in found):
        raise DialerError(not_campaigns_message())
    return [{"id": c["id"], "name": c["name"][:200], "paused": bool(c.get("paused"))} for c in found]


def test_connection(tenant) -> dict:
    """GET /campaigns with the tenant's saved settings: {"ok", "campaigns"} or {"ok": False, "error"}."""
    try:
        return {"ok": True, "campaigns": campaigns(tenant)}
    except DialerError as error:
        return {"ok": False, "error": error.message}
