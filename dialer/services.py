"""Dialer workflows used by the admin, the views, the commands and the tasks."""

import logging

from dialer.client import NotConfiguredError, ThreeCPlusClient, ThreeCPlusError
from tenants.secrets import SecretError

logger = logging.getLogger(__name__)


def test_connection(tenant) -> dict:
    """GET /campaigns with the tenant's saved settings: {"ok", "campaigns"} or {"ok": False, "error"}."""
    try:
        with ThreeCPlusClient.for_tenant(tenant) as client:
            campaigns = client.list_campaigns()
    except NotConfiguredError as error:
        return {"ok": False, "error": error.message}
    except SecretError:
        return {"ok": False, "error": "O token salvo não pôde ser lido com a chave atual (FIELD_ENCRYPTION_KEY)."}
    except ThreeCPlusError as error:
        logger.info("Teste de conexão 3C Plus da empresa %s falhou: %s", tenant.slug, error.message)
        return {"ok": False, "error": error.message}
    return {"ok": True, "campaigns": campaigns}
