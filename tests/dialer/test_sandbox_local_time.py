"""The sandbox dates what it records in São Paulo's local time, as the real 3C Plus does (its reports carry no
offset): a list made at 15:30 UTC reads 12:30, as an operator in Brazil would see it in 3C Plus."""

import json

from freezegun import freeze_time

from sandbox.fake import Sandbox


@freeze_time("2026-12-07 15:30:00")
def test_the_sandbox_writes_local_time():
    sandbox = Sandbox(seed=1)
    campaign_id = next(iter(sandbox.account("alfa").campaigns))
    status, _headers, body = sandbox.handle(
        "POST",
        f"campaigns/{campaign_id}/lists",
        {"api_token": "sandbox-alfa"},
        {"content-type": "application/json"},
        json.dumps({"name": "Lista"}).encode(),
    )
    assert status in (200, 201), body
    assert json.loads(body)["data"]["created_at"] == "2026-12-07 12:30:00"
