"""Which pages read the replica: the Carteira and the dashboard on GET, nothing on a POST, nothing for a user who
just wrote (the router's behaviour on a real standby is tests/test_replica.py)."""

import pytest
from django.db import router

from common import replica


class Recording(replica.ReplicaRouter):
    """Records the models a replica block would read on the standby; every read stays on the test database."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def db_for_read(self, model, **hints):
        block = replica._block.get()
        if block is not None and block.allowed and not block.wrote:
            self.seen.append(model._meta.label)
        return self.primary


@pytest.fixture
def recording(monkeypatch):
    recorder = Recording()
    monkeypatch.setattr(router, "routers", [recorder])
    monkeypatch.setattr(replica, "configured", lambda alias=replica.REPLICA: True)
    return recorder


def test_the_carteira_and_the_dashboard_read_the_replica_on_get(client, tenant_admin, make_client, recording):
    make_client(name="Maria")
    client.force_login(tenant_admin)
    assert "Maria" in client.get("/admin/core/client/").content.decode()
    assert "core.Client" in recording.seen
    recording.seen.clear()
    assert client.get("/admin/").status_code == 200
    assert recording.seen, "the dashboard's figures are read on the replica"


def test_a_user_who_just_wrote_reads_the_primary(client, tenant_admin, make_client, recording):
    wallet_client = make_client(name="Maria")
    client.force_login(tenant_admin)
    client.post(f"/admin/core/client/{wallet_client.pk}/change/", {})  # any write attempt marks the session
    recording.seen.clear()
    client.get("/admin/core/client/")
    assert recording.seen == []
