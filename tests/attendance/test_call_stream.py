"""The console's call stream (server-sent events) served by a real uvicorn against PostgreSQL: the webhook's
NOTIFY reaches the right operator's stream and no other, a reconnection resumes after the last event, and
where the server cannot stream the console keeps polling."""

import asyncio
import json
import time
import types

import httpx
import psycopg
import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import AsyncClient
from django.test import Client as DjangoClient

from common.parsing import has_control_characters
from common.processes import database_url, stop
from dialer import live
from dialer.models import DialerCallEvent, WebhookDelivery
from tenants.models import Membership, Role
from tests.apart import run_apart
from tests.conftest import free_port, make_user, start_asgi_server
from tests.db_proxy import DatabaseProxy

STREAM = "/atendimento/ligacoes/"
pytestmark = pytest.mark.django_db(transaction=True)


def agent(user, agent_id):
    Membership.objects.filter(user=user).update(threecplus_agent_id=agent_id)
    return user


def session_cookie(user) -> dict:
    browser = DjangoClient()
    browser.force_login(user)
    return {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}


def connected(call_id, agent_id, client_id=""):
    return {"call": {"id": call_id, "phone": "5511987654321", "identifier": str(client_id), "agent": agent_id}}


class Stream:
    """An EventSource, as far as the test needs one: (event, id, data) in order, comments skipped."""

    def __init__(self, http, headers, query=None):
        self.http, self.headers, self.query = http, headers, query
        self.events: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self):
        headers = {**self.headers, "Accept": "text/event-stream"}
        request = self.http.build_request("GET", STREAM, headers=headers, params=self.query)
        self.response = await self.http.send(request, stream=True)
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.reader = asyncio.create_task(self.read())
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        await self.response.aclose()

    async def read(self):
        fields = {}
        async for line in self.response.aiter_lines():
            if not line:
                if "event" in fields:
                    self.events.put_nowait((fields["event"], int(fields["id"]), json.loads(fields["data"])))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.strip()

    async def next(self, timeout=10.0):
        """The next event, or None when none comes within `timeout` seconds."""
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None


async def post(http, tenant, body):
    response = await http.post(f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", content=json.dumps(body))
    return response


def test_a_connected_call_reaches_its_operator_only(asgi_server, tenant, other_tenant, make_client):
    mine = agent(make_user(tenant, Role.OPERATOR, "ana"), "1001")
    colleague = agent(make_user(tenant, Role.OPERATOR, "bia"), "1002")
    same_agent_elsewhere = agent(make_user(other_tenant, Role.OPERATOR, "caio"), "1001")
    wallet_client = make_client(name="Paula Pop")
    cookies = [session_cookie(user) for user in (mine, colleague, same_agent_elsewhere)]

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            async with (
                Stream(http, cookies[0]) as ana,
                Stream(http, cookies[1]) as bia,
                Stream(http, cookies[2]) as caio,
            ):
                for stream in (ana, bia, caio):
                    event, _id, data = await stream.next()
                    assert (event, data) == ("pronto", {"chamada": None, "ultimo": 0})
                started = time.monotonic()
                response = await post(http, tenant, connected("c-1", "1001", wallet_client.pk))
                assert response.status_code == 201
                event, event_id, data = await ana.next()
                delay = time.monotonic() - started
                assert event == "chamada" and event_id == data["ultimo"] == response.json()["id"]
                assert data["chamada"] == {
                    "telefone": "(11) 98765-4321",
                    "id": "c-1",
                    "url": f"/atendimento/{wallet_client.pk}/?call_id=c-1",
                    "cliente": "Paula Pop",
                }
                assert await bia.next(timeout=1.5) is None
                assert await caio.next(timeout=0.5) is None
                # The other tenant's agent 1001 gets its own tenant's call, and ana nothing.
                assert (await post(http, other_tenant, connected("c-2", "1001"))).status_code == 201
                event, _id, data = await caio.next()
                assert event == "chamada" and data["chamada"]["id"] == "c-2" and "url" not in data["chamada"]
                assert await ana.next(timeout=1.5) is None
                return delay

    delay = run_apart(scenario())
    print(f"webhook -> stream do operador em {delay * 1000:.0f} ms")  # a figure, not an assertion


def test_a_reconnection_gets_the_call_it_missed(asgi_server, tenant, operator, make_client):
    agent(operator, "1001")
    wallet_client = make_client()
    cookie = session_cookie(operator)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            assert (await post(http, tenant, connected("before", "1001"))).status_code == 201
            async with Stream(http, cookie) as stream:
                event, seen, _data = await stream.next()
                assert event == "pronto"  # only calls from now on: "before" is not offered
            missed = (await post(http, tenant, connected("while-away", "1001", wallet_client.pk))).json()["id"]
            async with Stream(http, {**cookie, "Last-Event-ID": str(seen)}) as stream:
                assert await stream.next() == ("pronto", seen, {"chamada": None, "ultimo": seen})
                event, event_id, data = await stream.next()
                assert (event, event_id, data["chamada"]["id"]) == ("chamada", missed, "while-away")
                # And it goes on waiting on the same connection.
                later = (await post(http, tenant, connected("later", "1001"))).json()["id"]
                assert (await stream.next())[1] == later

    run_apart(scenario())


def test_a_lost_listening_connection_misses_no_call(asgi_server, tenant, operator):
    agent(operator, "1001")
    cookie = session_cookie(operator)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http, Stream(http, cookie) as stream:
            assert (await stream.next())[0] == "pronto"
            async with await psycopg.AsyncConnection.connect(**live.conninfo(), autocommit=True) as database:
                for _ in range(100):  # the server may still be opening its listening connection
                    cut = await database.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                        [f"LISTEN {live.CHANNEL}"],
                    )
                    if await cut.fetchall() == [(True,)]:
                        break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail("o servidor não está escutando")
            # Sent while the server listens again, or before: read when the connection comes back, either way.
            call = (await post(http, tenant, connected("during-the-cut", "1001"))).json()["id"]
            assert (await stream.next())[1] == call

    run_apart(scenario())


def test_a_waiting_stream_counts_for_the_live_panel(asgi_server, operator):
    agent(operator, "1001")
    cookie = session_cookie(operator)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http, Stream(http, cookie) as stream:
            assert (await stream.next())[0] == "pronto"
            await asyncio.sleep(2)  # a new stream is written within about a second

    run_apart(scenario())
    assert Membership.objects.get(user=operator).console_seen_at is not None


def test_the_webhook_answers_alike_through_the_asgi_endpoint(asgi_server, tenant):
    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            first = await post(http, tenant, connected("c-9", "1001"))
            again = await post(http, tenant, {"call-was-connected": connected("c-9", "1001")})
            url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
            broken = await http.post(url, content=b"{nao e json")
            unused = await post(http, tenant, {"event": "agent-is-idle", "data": {"api_token": "tok-1"}})
            unknown = await http.post("/dialer/webhooks/3cplus/nao-existe/", content=b"{}")
            get = await http.get(url)
            return first, again, broken, unused, unknown, get

    first, again, broken, unused, unknown, get = run_apart(scenario())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"id": first.json()["id"], "repetido": True}
    assert broken.status_code == 400 and broken.json()["erro"] == "JSON inválido."
    assert unused.status_code == 202 and unused.json()["usado"] is False
    assert (unknown.status_code, get.status_code) == (404, 405)
    assert DialerCallEvent.objects.get().call_id == "c-9"
    results = list(WebhookDelivery.objects.order_by("id").values_list("result", flat=True))
    assert results == ["processado", "repetido", "invalido", "nao_usado"]
    assert "tok-1" not in WebhookDelivery.objects.get(result="nao_usado").body


def test_where_the_server_cannot_stream_the_console_polls(client, operator, settings):
    agent(operator, "1001")
    client.force_login(operator)
    # A WSGI server (runserver, gunicorn, the test client): no stream on the page, a 204 if asked anyway.
    assert 'data-stream=""' in client.get("/atendimento/").content.decode()
    assert client.get(STREAM).status_code == 204
    assert client.get("/atendimento/proxima-ligacao/").json() == {"chamada": None, "ultimo": 0}
    # ASGI: SQLite has no LISTEN/NOTIFY; on PostgreSQL the stream can be switched off.
    if connection.vendor == "postgresql":
        settings.ATTENDANCE_CALL_STREAM = False
    asgi = AsyncClient()
    asgi.force_login(operator)
    assert run_apart(asgi.get(STREAM)).status_code == 204


def test_the_listener_routes_by_tenant_and_agent():
    listener = live.Listener()
    ours, theirs, colon = live.Waiter(), live.Waiter(), live.Waiter()
    listener.waiters[(1, "1001")].add(ours)
    listener.waiters[(2, "1001")].add(theirs)
    listener.waiters[(1, "a:b")].add(colon)
    listener.dispatch(live.payload(1, 55, "1001"))
    listener.dispatch(live.payload(1, 56, "a:b"))
    assert ours._woken.is_set() and colon._woken.is_set() and not theirs._woken.is_set()


def test_signing_out_closes_the_open_stream(asgi_server, operator):
    """A console left open after its operator signs out (here or in another tab) stops getting calls at once,
    not at its next reconnection: the stream says "encerrado" within a presence round and ends."""
    agent(operator, "1001")
    browser = DjangoClient()
    browser.force_login(operator)
    key = browser.cookies["sessionid"].value
    cookie = {"Cookie": f"sessionid={key}"}
    other = session_cookie(operator)  # the same operator signed in elsewhere: that stream stays

    async def scenario():
        async with (
            httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http,
            Stream(http, cookie) as stream,
            Stream(http, other) as elsewhere,
        ):
            assert (await stream.next())[0] == "pronto"
            assert (await elsewhere.next())[0] == "pronto"
            await asyncio.to_thread(browser.post, "/sair/")
            started = time.monotonic()
            event = await stream.next(timeout=15)
            assert event is not None and event[0] == "encerrado"
            assert time.monotonic() - started < 12
            assert await stream.next(timeout=1) is None  # and nothing after it
            assert await elsewhere.next(timeout=1) is None  # still open, waiting

    run_apart(scenario())
    assert not Session.objects.filter(session_key=key).exists()


def test_a_reconnection_replays_every_call_it_missed_oldest_first(asgi_server, tenant, operator):
    """Calls stored while the console was away (a server restart, a database outage) each reach it after it
    reconnects, in the order they connected: not only the newest."""
    agent(operator, "1001")
    cookie = session_cookie(operator)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            async with Stream(http, cookie) as stream:
                event, seen, _data = await stream.next()
                assert event == "pronto"
            missed = [(await post(http, tenant, connected(f"away-{n}", "1001"))).json()["id"] for n in range(3)]
            async with Stream(http, {**cookie, "Last-Event-ID": str(seen)}) as stream:
                assert (await stream.next())[0] == "pronto"
                replayed = [await stream.next(timeout=3) for _ in missed]
                assert [(event and event[:2]) for event in replayed] == [("chamada", n) for n in missed]
                # A burst while connected arrives whole too.
                burst = [(await post(http, tenant, connected(f"burst-{n}", "1001"))).json()["id"] for n in range(3)]
                assert [(await stream.next(timeout=3) or (None, None))[1] for _ in burst] == burst

    run_apart(scenario())


REVOCATIONS = {
    "senha redefinida": lambda user: (user.set_password("outra-senha-456"), user.save()),
    "usuário desativado": lambda user: type(user).objects.filter(pk=user.pk).update(is_active=False),
    "usuário excluído": lambda user: user.delete(),
    "vínculo removido": lambda user: Membership.objects.filter(user=user).delete(),
    "ID do agente trocado": lambda user: Membership.objects.filter(user=user).update(threecplus_agent_id="2999"),
}


def test_revoked_access_ends_the_open_stream_within_seconds(asgi_server, tenant):
    """Whatever revokes an operator's access (a password reset, deactivation, deletion, the membership removed,
    the agent ID changed), the open stream says "encerrado" within a presence round and ends; an operator whose
    access stands keeps waiting."""
    users = {case: agent(make_user(tenant, Role.OPERATOR, f"op{n}"), f"200{n}") for n, case in enumerate(REVOCATIONS)}
    kept = agent(make_user(tenant, Role.OPERATOR, "mantida"), "2100")
    cookies = {case: session_cookie(user) for case, user in users.items()}
    kept_cookie = session_cookie(kept)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            streams = {case: await Stream(http, cookie).__aenter__() for case, cookie in cookies.items()}
            async with Stream(http, kept_cookie) as waiting:
                try:
                    for stream in [*streams.values(), waiting]:
                        assert (await stream.next())[0] == "pronto"
                    for case, user in users.items():
                        await asyncio.to_thread(REVOCATIONS[case], user)
                    started = time.monotonic()
                    ended = {case: await stream.next(timeout=12) for case, stream in streams.items()}
                    assert {case: event and event[0] for case, event in ended.items()} == dict.fromkeys(
                        REVOCATIONS, "encerrado"
                    )
                    assert time.monotonic() - started < 12
                    assert await waiting.next(timeout=1) is None
                finally:
                    for stream in streams.values():
                        await stream.__aexit__(None, None, None)

    run_apart(scenario())


def test_an_agent_id_moved_to_someone_else_takes_its_calls_along(asgi_server, tenant, make_client):
    """The old holder of an agent ID gets none of the new holder's calls, even one connecting right after the
    move, before the next presence round: its stream ends instead."""
    old = agent(make_user(tenant, Role.OPERATOR, "antigo"), "3001")
    new = make_user(tenant, Role.OPERATOR, "novo")
    wallet_client = make_client(name="Cliente Sigiloso")

    old_cookie, new_cookie = session_cookie(old), session_cookie(new)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            async with Stream(http, old_cookie) as before:
                assert (await before.next())[0] == "pronto"
                await asyncio.to_thread(agent, old, "")
                await asyncio.to_thread(agent, new, "3001")
                async with Stream(http, new_cookie) as after:
                    assert (await after.next())[0] == "pronto"
                    call = (await post(http, tenant, connected("c-novo", "3001", wallet_client.pk))).json()["id"]
                    event, event_id, data = await after.next()
                    assert (event, event_id, data["chamada"]["cliente"]) == ("chamada", call, "Cliente Sigiloso")
                    event = await before.next(timeout=12)
                    assert event is not None and event[0] == "encerrado" and event[2]["chamada"] is None
                    assert await before.next(timeout=1) is None

    run_apart(scenario())


def test_a_session_holds_a_few_streams_and_a_new_one_closes_the_oldest(asgi_server, operator, settings):
    """One session opening stream after stream holds at most ATTENDANCE_STREAMS_PER_SESSION of them (3 by
    default) on a server process: each new one closes the oldest, which says "substituido" and ends."""
    agent(operator, "1001")
    cookie, other_cookie = session_cookie(operator), session_cookie(operator)
    limit = 3  # the server's default (its own process, not this one's settings)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            streams = []
            try:
                for _ in range(limit):
                    streams.append(await Stream(http, cookie).__aenter__())
                    assert (await streams[-1].next())[0] == "pronto"
                streams.append(await Stream(http, cookie).__aenter__())
                assert (await streams[-1].next())[0] == "pronto"
                event = await streams[0].next(timeout=3)
                assert event is not None and event[0] == "substituido"
                assert await streams[0].next(timeout=1) is None
                for stream in streams[1:]:
                    assert await stream.next(timeout=0.5) is None  # still open, waiting
                # A stream of another session of the same operator is not counted with these.
                async with Stream(http, other_cookie) as elsewhere:
                    assert (await elsewhere.next())[0] == "pronto"
                    assert await streams[1].next(timeout=1) is None
            finally:
                for stream in streams:
                    await stream.__aexit__(None, None, None)

    assert settings.ATTENDANCE_STREAMS_PER_SESSION == limit
    run_apart(scenario())


HOSTILE_IDS = ["²", "①", "9" * 5000, "9" * 30, "-1", "1\x00", " 7"]


def test_a_hostile_depois_is_ignored_not_a_500(client, operator):
    """`depois` is ASCII digits that fit a bigint, or ignored (the console starts from now): `²`, 5,000 digits
    or 30 digits must not reach int() or the database."""
    agent(operator, "1001")
    client.force_login(operator)
    for value in HOSTILE_IDS:
        response = client.get("/atendimento/proxima-ligacao/", {"depois": value})
        if has_control_characters(value):  # refused before the view (common.middleware)
            assert response.status_code == 400, repr(value)
            continue
        assert (response.status_code, response.json()) == (200, {"chamada": None, "ultimo": 0}), repr(value)


def test_a_hostile_last_event_id_is_ignored_not_a_500(asgi_server, operator):
    agent(operator, "1001")
    cookie = session_cookie(operator)

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            for value in HOSTILE_IDS[:5]:  # a header carries no NUL, and its spaces are trimmed
                async with Stream(http, {**cookie, "Last-Event-ID": value.encode()}) as stream:
                    assert await stream.next() == ("pronto", 0, {"chamada": None, "ultimo": 0}), repr(value)
            async with Stream(http, cookie, query={"depois": "²"}) as stream:
                assert (await stream.next())[0] == "pronto"

    run_apart(scenario())


@pytest.fixture
def server_behind_a_proxy(asgi_server):
    """Another uvicorn, reaching the test database through a proxy the test cuts (the database crashed) and
    restores (it restarted). Requested after asgi_server, so it runs on PostgreSQL only."""
    db = connection.settings_dict
    proxy = DatabaseProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    port = free_port()
    process = start_asgi_server(database_url({**db, "HOST": "127.0.0.1", "PORT": proxy.port}), port)
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{port}", proxy=proxy)
    finally:
        stop(process)
        proxy.close()


def test_a_stream_holds_through_a_database_outage_and_a_reconnection_during_it_is_503(
    server_behind_a_proxy, tenant, operator
):
    """While the database is away an open stream stays open and delivers the next call once it is back; a stream
    asked for meanwhile is a 503 (retried by the console), not a 500. A delivery during the outage is refused
    (not stored): 3C Plus has to send it again."""
    agent(operator, "1001")
    cookie = session_cookie(operator)
    server = server_behind_a_proxy

    async def scenario():
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http, Stream(http, cookie) as stream:
            event, seen, _data = await stream.next()
            assert event == "pronto"
            server.proxy.cut()
            refused, delivery = await asyncio.gather(
                http.get(STREAM, headers={**cookie, "Last-Event-ID": str(seen)}),
                post(http, tenant, connected("during-the-outage", "1001")),
            )
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert delivery.status_code >= 500
            server.proxy.restore()
            for _ in range(20):  # a pooled connection lent just before the cut fails once, then is dropped
                response = await post(http, tenant, connected("after-the-outage", "1001"))
                if response.status_code == 201:
                    break
                await asyncio.sleep(0.5)
            call = response.json()["id"]
            event = await stream.next(timeout=15)
            assert event is not None and event[:2] == ("chamada", call)
            async with Stream(http, {**cookie, "Last-Event-ID": str(seen)}) as again:
                assert (await again.next())[0] == "pronto"
                assert (await again.next())[:2] == ("chamada", call)

    run_apart(scenario())
    assert not DialerCallEvent.objects.filter(call_id="during-the-outage").exists()
