"""The sandbox page's clock: "Avançar relógio" makes the simulated dialler call who is on an active list."""

import datetime
import json
from zoneinfo import ZoneInfo

from sandbox.views import SANDBOX
from tenants.settings_schema import clean_settings
from tests.dialer.test_sandbox import call, demo_sandbox  # noqa: F401

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
ACRE = "America/Rio_Branco"
DATA = {"nome": "Acreano", "valor_em_aberto": "10.00", "url_atendimento": "http://x/atendimento/1/"}


def test_advancing_the_clock_dials_the_active_lists_only(client, tenant, tenant_admin, demo_sandbox):  # noqa: F811
    tenant.settings = clean_settings(
        {"threecplus_base_url": "http://testserver/sandbox/3cplus/api/v1", "threecplus_api_key": "sandbox-alfa"}
    )
    tenant.save()
    account = demo_sandbox.account("alfa")
    running, paused = (next(c["id"] for c in account.campaigns.values() if c["paused"] is p) for p in (False, True))
    for campaign_id, identifier in ((running, "1"), (paused, "2")):
        _status, body = call(
            demo_sandbox,
            "POST",
            f"campaigns/{campaign_id}/lists",
            token="sandbox-alfa",
            body=b"name=L",
            content_type="application/x-www-form-urlencoded",
        )
        contact = json.dumps(
            [{"phone": f"6899990000{identifier}", "identifier": identifier, "data": {**DATA, "fuso": ACRE}}]
        )
        status, _ = call(
            demo_sandbox,
            "POST",
            f"campaigns/{campaign_id}/lists/{body['data']['id']}/mailing.json",
            token="sandbox-alfa",
            body=contact.encode(),
        )
        assert status == 204
    SANDBOX.set_clock(datetime.datetime(2026, 4, 20, 10, 0, tzinfo=SAO_PAULO))
    client.force_login(tenant_admin)
    assert "Avançar relógio" in client.get("/sandbox/3cplus/").content.decode()
    assert client.post("/sandbox/3cplus/relogio/", {"account": "alfa", "minutes": "0"}).status_code == 302
    assert SANDBOX.account("alfa").dialled == []  # refused: nothing moved
    client.post("/sandbox/3cplus/relogio/", {"account": "alfa", "minutes": "5"})
    dialled = SANDBOX.account("alfa").dialled
    # Only the running campaign's contact, at 10:05 in Brasília = 08:05 in Acre.
    assert [(c["identifier"], c["local_time"], c["zone"]) for c in dialled] == [
        ("1", "2026-04-20 08:05", "America/Rio_Branco")
    ]
    assert SANDBOX.now() == datetime.datetime(2026, 4, 20, 10, 5, tzinfo=SAO_PAULO)
    assert "08:05" in client.get("/sandbox/3cplus/").content.decode()
    # Another tenant's sandbox company cannot be advanced from here.
    assert client.post("/sandbox/3cplus/relogio/", {"account": "beta", "minutes": "5"}).status_code == 403
