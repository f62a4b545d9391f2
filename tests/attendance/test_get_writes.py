"""A GET writes nothing an attacker chooses.

Production sends the session cookie cross-site (SameSite=None, for the 3C Plus iframe), so any page a signed-in
operator visits can make their browser GET ours: an <img src="…/atendimento/1/?call_id=x%0By"> wrote a control
character into the LGPD access log, and from then on the tenant's access-log XLSX export failed.
"""

import uuid

import pytest

from attendance.models import CallDisposition, ClientAccessLog, DispositionType
from common.parsing import has_control_characters
from tenants.models import Membership

HOSTILE_CALL_IDS = [
    "x\x0by",
    "x\x00y",
    '=HYPERLINK("http://evil.example","clique")',
    "-1+1",
    "<script>alert(1)</script>",
    "a b",
    "a&call_id=b",
    "abc\n",
    "１２３",  # fullwidth digits
    "²",
    "ligação",
    "x" * 121,
]
REAL_CALL_IDS = ["call:minhaempresa:12:1700000000.12345", "1700000000.12345", "64b7f0c2e1d3a4b5c6d7e8f9", "42"]

IMG = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "no-cors", "HTTP_SEC_FETCH_DEST": "image"}
FETCH = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_DEST": "empty"}
IFRAME = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_DEST": "iframe"}
HTMX = {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_DEST": "empty"}


@pytest.fixture
def wallet_client(make_client):
    return make_client(name="Joana Devedora")


@pytest.mark.parametrize("call_id", HOSTILE_CALL_IDS)
def test_the_access_log_keeps_no_call_id_3c_plus_could_not_have_sent(client, operator, wallet_client, call_id):
    client.force_login(operator)
    response = client.get(f"/atendimento/{wallet_client.pk}/", {"call_id": call_id})
    if has_control_characters(call_id):  # refused before the view (common.middleware): nothing read, nothing kept
        assert response.status_code == 400
        assert not ClientAccessLog.objects.exists()
        return
    assert response.status_code == 200
    assert ClientAccessLog.objects.get().call_id == ""
    # Nor is it put in the page's forms, to come back in their POST.
    assert response.context["tabulation_form"].initial["call_id"] == ""


@pytest.mark.parametrize("call_id", REAL_CALL_IDS)
def test_the_shapes_3c_plus_sends_are_logged(client, operator, wallet_client, call_id):
    client.force_login(operator)
    assert client.get(f"/atendimento/{wallet_client.pk}/", {"call_id": call_id}).status_code == 200
    assert ClientAccessLog.objects.get().call_id == call_id


@pytest.mark.parametrize("call_id", ["x\x0by", "a b", "x" * 121])
def test_a_posted_call_id_is_bounded_too(client, operator, wallet_client, call_id):
    client.force_login(operator)
    kind = DispositionType.objects.get(tenant=None, behavior="caixa_postal")
    data = {"type": kind.pk, "token": str(uuid.uuid4()), "notes": "", "call_id": call_id}
    client.post(f"/atendimento/{wallet_client.pk}/tabular/", data, HTTP_HX_REQUEST="true")
    assert not CallDisposition.objects.filter(call_id=call_id).exists()


@pytest.mark.parametrize("headers", [IMG, FETCH], ids=["img", "fetch"])
def test_another_site_cannot_make_the_browser_write(client, operator, wallet_client, headers):
    """A cross-site subresource is nobody opening the page: refused, so nothing is logged or marked."""
    client.force_login(operator)
    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    for url in (f"/atendimento/{wallet_client.pk}/?call_id=42", "/atendimento/proxima-ligacao/", "/atendimento/"):
        assert client.get(url, **headers).status_code == 403, url
    assert not ClientAccessLog.objects.exists()
    assert Membership.objects.get(user=operator).console_seen_at is None


@pytest.mark.parametrize("headers", [IFRAME, HTMX, {}], ids=["3c-plus-iframe", "same-origin", "no-fetch-metadata"])
def test_the_3c_plus_iframe_and_our_own_pages_still_open_the_client(client, operator, wallet_client, headers):
    client.force_login(operator)
    assert client.get(f"/atendimento/{wallet_client.pk}/?call_id=42", **headers).status_code == 200
    assert ClientAccessLog.objects.get().call_id == "42"


def test_the_webhook_still_takes_deliveries_whatever_their_headers(client, tenant):
    response = client.post(
        f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", "{}", content_type="application/json", **FETCH
    )
    assert response.status_code == 202
