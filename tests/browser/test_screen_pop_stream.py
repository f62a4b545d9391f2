"""The screen pop as production serves it: uvicorn on PostgreSQL, the console waiting on its event stream."""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import Client
from playwright.sync_api import expect

from common.processes import database_url, stop
from tests.conftest import free_port, start_asgi_server
from tests.db_proxy import DatabaseProxy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_console_waits_on_the_stream_and_opens_the_client(page, asgi_server, operator, tenant, make_client):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    wallet_client = make_client(name="Sara Stream")
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    browser = Client()  # the test settings hash passwords in a way the server does not: sign in by session
    browser.force_login(operator)
    page.context.add_cookies(
        [{"name": "sessionid", "value": browser.cookies["sessionid"].value, "url": asgi_server.url}]
    )
    page.goto(f"{asgi_server.url}/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)  # the stream's "pronto" arrived
    page.wait_for_timeout(1500)  # a polling console would have asked by now
    assert not [url for url in asked if "/proxima-ligacao/" in url]
    assert [url for url in asked if url.endswith("/atendimento/ligacoes/")]
    body = {"call": {"id": "s-1", "phone": "5511987654321", "identifier": str(wallet_client.pk), "agent": "1001"}}
    request = urllib.request.Request(
        f"{asgi_server.url}/dialer/webhooks/3cplus/{tenant.webhook_secret}/", data=json.dumps(body).encode()
    )
    started = time.monotonic()
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    page.wait_for_url(f"**/atendimento/{wallet_client.pk}/?call_id=s-1")
    print(f"webhook -> atendimento aberto (stream) em {time.monotonic() - started:.2f}s")  # a figure
    expect(page.locator("h1")).to_have_text("Sara Stream")


def test_the_console_streams_again_after_a_restart_during_a_database_outage(
    page, asgi_server, operator, tenant, make_client
):
    """The server restarts while PostgreSQL is down: the console's reconnection is refused (503) and it retries,
    waiting longer each time, until the database is back; then it waits on a stream again, not polling every
    second until reloaded, and the next call opens the client."""
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    wallet_client = make_client(name="Rita Retorno")
    db = connection.settings_dict
    proxy = DatabaseProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    url_of_database = database_url({**db, "HOST": "127.0.0.1", "PORT": proxy.port})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_asgi_server(url_of_database, port)
    asked = []
    page.on("request", lambda request: asked.append((time.monotonic(), request.url)))
    streams = []  # when a stream was answered, and how
    page.on(
        "response",
        lambda response: (
            "/atendimento/ligacoes/" in response.url and streams.append((time.monotonic(), response.status))
        ),
    )
    try:
        browser = Client()
        browser.force_login(operator)
        page.context.add_cookies([{"name": "sessionid", "value": browser.cookies["sessionid"].value, "url": url}])
        page.goto(f"{url}/atendimento/")
        expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
        proxy.cut()
        stop(process)
        # Up again while the database is still down: the static files answer, nothing that reads the database.
        process = start_asgi_server(url_of_database, port, ready_path="/static/attendance/workspace.js")
        deadline = time.monotonic() + 60
        while not any("/proxima-ligacao/" in asked_url for _at, asked_url in asked):  # refused, it checks the server
            assert time.monotonic() < deadline, "o console não tentou de novo"
            page.wait_for_timeout(500)
        assert 503 in [status for _at, status in streams]  # the reconnection during the outage
        proxy.restore()
        restored = time.monotonic()
        deadline = restored + 90
        while not any(at > restored and status == 200 for at, status in streams):
            assert time.monotonic() < deadline, f"o console não voltou a escutar o stream: {streams}"
            page.wait_for_timeout(500)
        quiet_since = time.monotonic() + 0.5
        page.wait_for_timeout(3000)  # a console left polling would ask about three times
        assert not [u for at, u in asked if at > quiet_since and "/proxima-ligacao/" in u], "o console ficou no polling"
        body = {"call": {"id": "s-2", "phone": "5511987654321", "identifier": str(wallet_client.pk), "agent": "1001"}}
        request = urllib.request.Request(
            f"{url}/dialer/webhooks/3cplus/{tenant.webhook_secret}/", data=json.dumps(body).encode()
        )
        for _ in range(10):  # a pooled connection lent just before the cut fails once, then is dropped
            try:
                with urllib.request.urlopen(request) as response:
                    assert response.status in (200, 201)
                    break
            except urllib.error.HTTPError:
                time.sleep(0.5)
        page.wait_for_url(f"**/atendimento/{wallet_client.pk}/?call_id=s-2")
        expect(page.locator("h1")).to_have_text("Rita Retorno")
    finally:
        stop(process)
        proxy.close()


def test_a_call_connected_while_the_console_opens_the_client_is_offered_there(
    page, asgi_server, operator, tenant, make_client
):
    """Two calls back to back: the console opens the first client's page, and that page offers the second,
    which connected before it started listening (it resumes after the last call the console saw)."""
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    first, second = make_client(name="Primeira Pessoa"), make_client(name="Segunda Pessoa")
    browser = Client()
    browser.force_login(operator)
    page.context.add_cookies(
        [{"name": "sessionid", "value": browser.cookies["sessionid"].value, "url": asgi_server.url}]
    )
    page.goto(f"{asgi_server.url}/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
    for call_id, wallet_client in (("h-1", first), ("h-2", second)):
        body = {"call": {"id": call_id, "phone": "5511987654321", "identifier": str(wallet_client.pk), "agent": "1001"}}
        request = urllib.request.Request(
            f"{asgi_server.url}/dialer/webhooks/3cplus/{tenant.webhook_secret}/", data=json.dumps(body).encode()
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 201
    page.wait_for_url(f"**/atendimento/{first.pk}/?call_id=h-1")
    expect(page.locator("h1")).to_have_text("Primeira Pessoa")
    expect(page.locator("#call-watch [data-client]")).to_have_text("Segunda Pessoa")
    expect(page.locator("#call-watch a[data-open]")).to_have_attribute("href", f"/atendimento/{second.pk}/?call_id=h-2")
