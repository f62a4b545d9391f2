import pytest

from dialer.client import RetryPolicy, ThreeCPlusAPI
from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tenants.settings_schema import clean_settings

TOKEN = "sandbox-alfa"
AGENT_TOKEN = "sandbox-agent-alfa"


@pytest.fixture
def sandbox_server():
    server = SandboxServer(Sandbox(seed=1)).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    return sandbox_server.sandbox


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_dialer_api(sandbox_server, sleeps):
    apis = []

    def factory(token=TOKEN, **kwargs):
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
        kwargs.setdefault("sleep", sleeps.append)
        api = ThreeCPlusAPI(kwargs.pop("base_url", sandbox_server.url), token, **kwargs)
        apis.append(api)
        return api

    yield factory
    for api in apis:
        api.close()


@pytest.fixture
def dialer_tenant(tenant, sandbox_server, settings):
    settings.PUBLIC_BASE_URL = "https://cobranca.exemplo.com.br"
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    return tenant


@pytest.fixture
def campaign_id(dialer_tenant, sandbox):
    return next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])


@pytest.fixture
def configured(tenant, sandbox_server):
    tenant.settings = clean_settings(
        {"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN, "threecplus_agent_token": AGENT_TOKEN}
    )
    tenant.save()
    return tenant


@pytest.fixture
def agent(operator):
    operator.membership.threecplus_agent_id = "1003"
    operator.membership.save()
    return operator
