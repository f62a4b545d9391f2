import pytest

from dialer.client import RetryPolicy, ThreeCPlusClient
from dialer.sandbox import Sandbox
from dialer.sandbox.server import SandboxServer

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
def make_dialer_client(sandbox_server, sleeps):
    clients = []

    def factory(token=TOKEN, **kwargs):
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
        kwargs.setdefault("sleep", sleeps.append)
        client = ThreeCPlusClient(kwargs.pop("base_url", sandbox_server.url), token, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
