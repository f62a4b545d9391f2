"""Waiting consoles cost no thread each: a uvicorn process holding 40 open call streams has the threads it had with
one (Django's per-request thread would add one per stream), and a call still pops on the right console only."""

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from common.processes import database_url, stop
from tenants.models import Role
from tests.apart import run_apart
from tests.attendance.test_call_stream import Stream, agent, connected, post, session_cookie
from tests.conftest import free_port, make_user, start_asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
CONSOLES = 40


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


@pytest.fixture
def one_process_server(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("o stream da ligação usa LISTEN/NOTIFY do PostgreSQL")
        db = connection.settings_dict
    port = free_port()
    process = start_asgi_server(database_url(db), port)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_forty_waiting_consoles_add_no_thread_and_each_call_reaches_its_own(one_process_server, tenant):
    process, url = one_process_server
    operators = [agent(make_user(tenant, Role.OPERATOR, f"op{i}"), str(5000 + i)) for i in range(CONSOLES)]
    cookies = [session_cookie(user) for user in operators]

    async def scenario():
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            # One console first: the process's shared threads (database, listener, presence) are started.
            async with Stream(http, cookies[0]) as first:
                assert (await first.next())[0] == "pronto"
                await asyncio.sleep(0.5)
                with_one = threads_of(process.pid)
                streams = [await Stream(http, cookie).__aenter__() for cookie in cookies[1:]]
                try:
                    for stream in streams:
                        assert (await stream.next())[0] == "pronto"
                    await asyncio.sleep(0.5)
                    with_all = threads_of(process.pid)
                    consoles = [first, *streams]
                    chosen = random.sample(range(CONSOLES), 5)
                    for index in chosen:
                        assert (await post(http, tenant, connected(f"t-{index}", str(5000 + index)))).status_code == 201
                    for index in chosen:
                        event, _id, data = await consoles[index].next()
                        assert event == "chamada" and data["chamada"]["id"] == f"t-{index}"
                    for index in set(range(CONSOLES)) - set(chosen):
                        assert consoles[index].events.empty()  # 0 on a wrong agent
                finally:
                    for stream in streams:
                        await stream.__aexit__(None, None, None)
        return with_one, with_all

    with_one, with_all = run_apart(scenario())
    print(f"threads do servidor: {with_one} com 1 console, {with_all} com {CONSOLES}")
    assert with_all - with_one <= 2, f"{with_all - with_one} threads a mais para {CONSOLES - 1} consoles"
