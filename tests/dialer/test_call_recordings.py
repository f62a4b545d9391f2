"""Recordings play in the product: the timeline's player asks our endpoint, which streams GET /calls/{id}/recording
from the sandbox 3C Plus (real HTTP on loopback) with the tenant's token, byte ranges included."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient

from attendance.models import ClientAccessLog
from dialer.models import DialerCallEvent
from sandbox.fake import _sample_recording
from tests.apart import run_apart
from tests.conftest import make_user
from tests.dialer.conftest import TOKEN

WAV = _sample_recording()


def recorded_call(client, tenant, sandbox, debtor) -> DialerCallEvent:
    """A call of the sandbox company whose history webhook (with its recording link, which needs the token) was
    delivered to the tenant."""
    account = sandbox.account("alfa")
    connected = sandbox.connect_call(account, agent_id="1001", phone="11987654321", contact={"identifier": debtor.pk})
    body = sandbox.hang_up(account, connected["call-was-connected"]["call"]["id"], speaking_seconds=2)
    history = body["call-history-was-created"]["callHistory"]
    history["recording"] = f"https://alfa.3c.plus/api/v1/calls/{history['_id']}/recording"
    response = client.post(
        f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    return DialerCallEvent.objects.get(event=DialerCallEvent.Event.HISTORY, client=debtor)


@pytest.fixture
def call(client, dialer_tenant, sandbox, make_client):
    return recorded_call(client, dialer_tenant, sandbox, make_client(phones=("+5511987654321",)))


def url(call) -> str:
    return f"/atendimento/{call.client_id}/gravacoes/{call.pk}/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_timeline_plays_the_recording_through_our_endpoint(client, call, operator):
    client.force_login(operator)
    page = client.get(f"/atendimento/{call.client_id}/").content.decode()
    assert f'<audio controls preload="none" src="{url(call)}"' in page
    assert "alfa.3c.plus" not in page, "the raw 3C Plus link (it needs the token) is not on the page"


def test_the_whole_recording_then_a_range_to_seek(client, call, operator, sandbox):
    client.force_login(operator)

    whole = client.get(url(call))
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/wav"
    assert whole["Content-Length"] == str(len(WAV)) and whole["Accept-Ranges"] == "bytes"
    assert whole["Cache-Control"] == "private, no-store"
    assert body(whole) == WAV and WAV.startswith(b"RIFF")

    part = client.get(url(call), HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 1000-1999/{len(WAV)}" and part["Content-Length"] == "1000"
    assert body(part) == WAV[1000:2000]

    tail = client.get(url(call), HTTP_RANGE="bytes=30000-")
    assert tail.status_code == 206 and body(tail) == WAV[30000:]

    asked = [r for r in sandbox.requests if r["path"].endswith("/recording")]
    assert [r["path"] for r in asked] == [f"/calls/{call.call_id}/recording"] * 3
    for response in (whole, part, tail):
        assert TOKEN not in str(response.headers) and "Content-Disposition" not in response.headers
    logs = ClientAccessLog.objects.filter(kind=ClientAccessLog.Kind.RECORDING)
    assert [(log.user, log.client_id, log.call_id) for log in logs] == [(operator, call.client_id, call.call_id)] * 3


def test_other_tenants_and_logged_out_users_get_404(client, call, other_tenant, make_client, operator):
    assert client.get(url(call)).status_code == 404, "logged out: not even a redirect to the login"

    client.force_login(make_user(other_tenant, "operador", username="op-beta"))
    assert client.get(url(call)).status_code == 404

    client.force_login(operator)
    someone_else = make_client()
    assert client.get(f"/atendimento/{someone_else.pk}/gravacoes/{call.pk}/").status_code == 404
    DialerCallEvent.objects.filter(pk=call.pk).update(recording_url="")
    assert client.get(url(call)).status_code == 404, "3C Plus did not record this call"
    assert not ClientAccessLog.objects.filter(kind=ClientAccessLog.Kind.RECORDING).exists()


def test_3cplus_failing_is_a_message_not_a_500(client, call, operator, sandbox):
    client.force_login(operator)
    sandbox.set_faults(fail_next=1, fail_status=503)  # not retried: the player asks again
    response = client.get(url(call))
    assert response.status_code == 502
    assert "indisponível" in response.content.decode()

    sandbox.account("alfa").calls.clear()  # 3C Plus no longer has it
    assert client.get(url(call)).status_code == 404


def test_the_sandbox_recording_needs_the_token_and_honours_ranges(sandbox_server, call):
    recording = f"{sandbox_server.url}/calls/{call.call_id}/recording"
    assert httpx.get(recording).status_code == 401
    whole = httpx.get(recording, headers={"Authorization": f"Bearer {TOKEN}"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wave" and whole.content == WAV
    last = httpx.get(recording, headers={"Authorization": f"Bearer {TOKEN}", "Range": "bytes=-10"})
    assert last.status_code == 206 and last.content == WAV[-10:]
    assert last.headers["content-range"] == f"bytes {len(WAV) - 10}-{len(WAV) - 1}/{len(WAV)}"
    beyond = httpx.get(recording, headers={"Authorization": f"Bearer {TOKEN}", "Range": f"bytes={len(WAV)}-"})
    assert beyond.status_code == 416


@pytest.mark.django_db(transaction=True)
def test_under_uvicorn_the_recording_is_streamed_not_read_whole_first(call, operator):
    asgi = AsyncClient()
    asgi.force_login(operator)

    async def play():
        response = await asgi.get(url(call), headers={"Range": "bytes=0-"})
        return response, b"".join([chunk async for chunk in response.streaming_content])

    async def play_and_close():
        played = await play()
        await sync_to_async(connections.close_all)()  # the view's thread's own connection
        return played

    response, data = run_apart(play_and_close())
    assert response.status_code == 206 and data == WAV
    assert response.is_async, "an async iterator: Django would otherwise read the whole recording into memory"
