"""The screen pop as production serves it: uvicorn on PostgreSQL, the console waiting on its event stream."""

import json
import time
import urllib.request

import pytest
from django.test import Client
from playwright.sync_api import expect

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
