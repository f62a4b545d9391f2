"""The WhatsApp chat's notes on the console's stream: an inbound message or a status change reaches the streams of
the operators of the same tenant who may see that client (assigned to them, the back office, or the client whose
page holds the stream), and never another tenant's."""

import asyncio
import datetime
import json
import types

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from attendance.models import Message
from dialer import live
from messaging import services
from tenants.models import Role
from tests.apart import run_apart
from tests.attendance.test_call_stream import agent, session_cookie
from tests.conftest import make_user

STREAM = "/atendimento/ligacoes/"
IDLE = types.SimpleNamespace(done=lambda: False, cancel=lambda: None)  # a listening task, as far as add sees


# -- routing in memory: no database --------------------------------------------------------------------------------


def waiter_of(listener, tenant_id, user_id, *, sees_all=False, client_id=None, agent_id="1001"):
    waiter = live.Waiter(live.Audience(tenant_id, user_id, sees_all, client_id))
    listener.add((tenant_id, agent_id), waiter)
    return waiter


def test_a_message_note_reaches_only_its_tenant_and_those_who_may_see_the_client():
    listener = live.Listener()
    listener.task = IDLE  # no LISTEN connection: what dispatch does is tested, add starts none
    assigned = waiter_of(listener, 1, user_id=10)
    colleague = waiter_of(listener, 1, user_id=11)
    back_office = waiter_of(listener, 1, user_id=12, sees_all=True)
    page_open = waiter_of(listener, 1, user_id=13, client_id=7)
    # Another tenant: the same user and client ids, the back office, a page claiming the client: nothing.
    elsewhere = [
        waiter_of(listener, 2, user_id=10),
        waiter_of(listener, 2, user_id=12, sees_all=True),
        waiter_of(listener, 2, user_id=13, client_id=7),
    ]
    listener.dispatch(live.message_payload(1, 7, 10, "recebida"))
    note = {"cliente": 7, "tipo": "recebida"}
    assert assigned.take_notes() == [note]
    assert back_office.take_notes() == [note]
    assert page_open.take_notes() == [note]
    assert colleague.take_notes() == [] and not colleague._woken.is_set()
    for waiter in elsewhere:
        assert waiter.take_notes() == [] and not waiter._woken.is_set()
    # A note wakes the stream but is no call: the stream reads no call for it.
    assert not assigned.take_calls()


def test_a_note_for_an_unassigned_client_reaches_the_back_office_only():
    listener = live.Listener()
    listener.task = IDLE
    operator = waiter_of(listener, 1, user_id=10)
    back_office = waiter_of(listener, 1, user_id=12, sees_all=True)
    listener.dispatch(live.message_payload(1, 8, None, "status"))
    assert operator.take_notes() == []
    assert back_office.take_notes() == [{"cliente": 8, "tipo": "status"}]


def test_calls_still_route_by_agent_and_a_removed_waiter_gets_no_notes():
    listener = live.Listener()
    listener.task = IDLE
    ours = waiter_of(listener, 1, user_id=10, agent_id="1001")
    listener.dispatch(live.payload(1, 55, "1001"))
    assert ours.take_calls() and ours.take_notes() == []
    listener.remove((1, "1001"), ours)
    assert not listener.tenants and not listener.waiters
    listener.dispatch(live.message_payload(1, 7, 10, "recebida"))
    assert ours.take_notes() == []


@pytest.mark.parametrize(
    "text", ["m:1:7:10", "m:1:7:10:apagada", "m:x:7:10:recebida", "m:1:7:10:recebida:extra", "m::::"]
)
def test_a_garbled_note_is_refused(text):
    listener = live.Listener()
    listener.task = IDLE
    waiter = waiter_of(listener, 1, user_id=10, sees_all=True)
    with pytest.raises(ValueError):
        listener.dispatch(text)
    assert waiter.take_notes() == []


def test_a_stream_cannot_listen_to_another_tenants_notes():
    with pytest.raises(ValueError), live.waiter(1, "1001", live.Audience(2, 10, sees_all=True)):
        pass  # refused before it waits anywhere


# -- what the services publish ---------------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(live, "available", lambda: True)
    monkeypatch.setattr(live, "publish", sent.append)
    return sent


@pytest.mark.django_db
def test_an_inbound_message_and_a_status_change_are_published_with_their_tenant_and_operator(
    published, tenant, operator, make_client
):
    debtor = make_client(assigned_operator=operator)
    services.receive(
        tenant,
        debtor,
        channel=Message.Channel.WHATSAPP,
        phone="+5511987654321",
        body="Oi",
        external_id="wamid.in",
        at=timezone.now(),
    )
    sent = Message.objects.create(
        tenant=tenant,
        client=debtor,
        channel=Message.Channel.WHATSAPP,
        direction=Message.Direction.OUTBOUND,
        phone="+5511987654321",
        body="Olá",
        sent_at=timezone.now() - datetime.timedelta(minutes=1),
        status=Message.Status.SENT,
        external_id="wamid.out",
    )
    assert services.apply_status(tenant, sent.external_id, Message.Status.READ)
    assert not services.apply_status(tenant, sent.external_id, Message.Status.DELIVERED)  # no change, no note
    assert services.mark_seen(debtor) == 1
    assert services.mark_seen(debtor) == 0  # nothing left unseen: no note
    assert published == [
        live.message_payload(tenant.pk, debtor.pk, operator.pk, "recebida"),
        live.message_payload(tenant.pk, debtor.pk, operator.pk, "status"),
        live.message_payload(tenant.pk, debtor.pk, operator.pk, "vista"),
    ]


@pytest.mark.django_db
def test_another_tenants_status_changes_nothing_and_publishes_nothing(published, tenant, other_tenant, make_client):
    debtor = make_client()
    Message.objects.create(
        tenant=tenant,
        client=debtor,
        channel=Message.Channel.WHATSAPP,
        direction=Message.Direction.OUTBOUND,
        phone="+5511987654321",
        body="Olá",
        sent_at=timezone.now(),
        status=Message.Status.SENT,
        external_id="wamid.out",
    )
    assert not services.apply_status(other_tenant, "wamid.out", Message.Status.READ)
    assert published == []


# -- end to end: uvicorn on PostgreSQL, the note through NOTIFY ------------------------------------------------------


class Events:
    """The events of one stream, (event, data), comments skipped; notes have no id."""

    def __init__(self, http, headers, query=None):
        self.http, self.headers, self.query = http, headers, query
        self.events: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self):
        headers = {**self.headers, "Accept": "text/event-stream"}
        self.response = await self.http.send(
            self.http.build_request("GET", STREAM, headers=headers, params=self.query), stream=True
        )
        assert self.response.status_code == 200
        self.reader = asyncio.create_task(self.read())
        event, _data = await self.next()
        assert event == "pronto"
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        await self.response.aclose()

    async def read(self):
        fields = {}
        async for line in self.response.aiter_lines():
            if not line:
                if "event" in fields:
                    self.events.put_nowait((fields["event"], json.loads(fields["data"]), "id" in fields))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.strip()

    async def next(self, timeout=10.0):
        try:
            event, data, has_id = await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None
        if event == "mensagem":
            assert not has_id  # the Last-Event-ID stays the last call's
        return event, data


def receive(tenant, debtor, text):
    """On a thread of its own (the scenario's loop may not touch the database), committed at once."""
    try:
        services.receive(
            tenant,
            debtor,
            channel=Message.Channel.WHATSAPP,
            phone="+5511987654321",
            body=text,
            external_id=f"wamid.{text}",
            at=timezone.now(),
        )
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_an_inbound_message_reaches_the_streams_that_may_see_it_and_no_other_tenants(
    asgi_server, tenant, other_tenant, make_client
):
    ana = agent(make_user(tenant, Role.OPERATOR, "ana"), "1001")
    bia = agent(make_user(tenant, Role.OPERATOR, "bia"), "1002")
    boss = agent(make_user(tenant, Role.SUPERVISOR, "chefe"), "1003")
    caio = agent(make_user(other_tenant, Role.OPERATOR, "caio"), "1001")
    dora = agent(make_user(other_tenant, Role.ADMIN, "dora"), "1004")
    debtor = make_client(name="Paula Chat", assigned_operator=ana)
    theirs = make_client(tenant=other_tenant, name="Outra Empresa", assigned_operator=caio)
    cookies = {user.username: session_cookie(user) for user in (ana, bia, boss, caio, dora)}

    async def scenario():
        async with httpx.AsyncClient(base_url=asgi_server.url, timeout=30) as http:
            async with (
                Events(http, cookies["ana"]) as ana_stream,
                Events(http, cookies["bia"]) as bia_console,
                Events(http, cookies["bia"], {"cliente": debtor.pk}) as bia_page,  # bia has Paula's page open
                Events(http, cookies["chefe"]) as boss_stream,
                Events(http, cookies["caio"], {"cliente": debtor.pk}) as caio_stream,  # another tenant's client
                Events(http, cookies["dora"]) as dora_stream,
            ):
                await asyncio.to_thread(receive, tenant, debtor, "oi")
                note = ("mensagem", {"cliente": debtor.pk, "tipo": "recebida"})
                assert await ana_stream.next() == note
                assert await bia_page.next() == note
                assert await boss_stream.next() == note
                assert await bia_console.next(timeout=1.5) is None
                assert await caio_stream.next(timeout=0.5) is None
                assert await dora_stream.next(timeout=0.5) is None
                # The other tenant's message reaches its own people only.
                await asyncio.to_thread(receive, other_tenant, theirs, "ola")
                theirs_note = ("mensagem", {"cliente": theirs.pk, "tipo": "recebida"})
                assert await caio_stream.next() == theirs_note
                assert await dora_stream.next() == theirs_note
                for stream in (ana_stream, bia_console, bia_page, boss_stream):
                    assert await stream.next(timeout=0.5) is None

    run_apart(scenario())  # tests/apart.py: not on the main thread
