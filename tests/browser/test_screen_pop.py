import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post_webhook(live_server, tenant, body):
    request = urllib.request.Request(
        f"{live_server.url}/dialer/webhooks/3cplus/{tenant.webhook_secret}/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return response.status


def test_call_connected_opens_the_client_and_prints_how_fast(page, live_server, operator, tenant, make_client):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    wallet_client = make_client(name="Paula Pop", phones=("+5511987654321",))
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#console")).to_contain_text("Aguardando ligação")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)  # the console has taken its starting point
    started = time.monotonic()
    status = post_webhook(
        live_server,
        tenant,
        {
            "call-was-connected": {
                "call": {
                    "id": "call:1:7:xyz",
                    "telephony_id": "xyz",
                    "phone": "5511987654321",
                    "identifier": str(wallet_client.pk),
                    "agent": "1001",
                    "call_mode": "dialer",
                },
                "mailing": {"identifier": str(wallet_client.pk), "data": {}},
            }
        },
    )
    assert status == 201
    page.wait_for_url(f"**/atendimento/{wallet_client.pk}/?call_id=call%3A1%3A7%3Axyz")
    delay = time.monotonic() - started
    expect(page.locator("h1")).to_have_text("Paula Pop")
    print(f"webhook -> atendimento aberto em {delay:.2f}s")  # a figure, not an assertion: the machine's load varies


def test_unknown_number_shows_the_phone_and_a_search(page, live_server, operator, tenant):
    operator.membership.threecplus_agent_id = "1002"
    operator.membership.save()
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
    post_webhook(live_server, tenant, {"call": {"id": "c-x", "phone": "5511900001111", "agent": "1002"}})
    watch = page.locator("#call-watch")
    expect(watch).to_be_visible()
    expect(watch).to_contain_text("(11) 90000-1111")
    expect(watch).to_contain_text("Cliente não encontrado")
    expect(watch.locator("form[data-search] input[name=q]")).to_have_value("(11) 90000-1111")
