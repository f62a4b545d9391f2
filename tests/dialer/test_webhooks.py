import json

import pytest

from dialer.models import DialerCallEvent


def connected(client_id="", phone="5511987654321", call_id="call:1:2:abc"):
    return {
        "call": {
            "id": call_id,
            "telephony_id": "abc",
            "phone": phone,
            "identifier": str(client_id),
            "campaign_id": 7,
            "call_mode": "dialer",
            "status": 3,
            "agent": "1001",
        },
        "mailing": {
            "_id": "m1",
            "identifier": str(client_id),
            "phone": phone,
            "list_id": 9,
            "data": {"nome": "Ana", "url_atendimento": "http://x/atendimento/1/"},
        },
        "agent": {"id": 1001},
        "campaign": {"id": 7},
    }


def post(client, tenant, body, secret=None):
    return client.post(
        f"/dialer/webhooks/3cplus/{secret or tenant.webhook_secret}/", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize("wrap", [lambda b: b, lambda b: {"call-was-connected": b}])
def test_call_was_connected_in_both_shapes(client, tenant, make_client, wrap):
    wallet_client = make_client()
    response = post(client, tenant, wrap(connected(wallet_client.pk)))
    assert response.status_code == 201
    event = DialerCallEvent.objects.get()
    assert (event.event, event.call_id, event.agent_id, event.client) == (
        "call-was-connected",
        "call:1:2:abc",
        "1001",
        wallet_client,
    )
    assert event.mailing_data["nome"] == "Ana" and event.call_mode == "dialer" and event.campaign_id == "7"


@pytest.mark.parametrize(
    "body",
    [
        {
            "call-history-was-created": {
                "callHistory": {
                    "_id": "h1",
                    "telephony_id": "abc",
                    "number": "5511987654321",
                    "status": 7,
                    "qualification": {"id": 5, "name": "Negociar"},
                    "mailing_data": {"identifier": "__ID__", "data": {}},
                    "agent": {"id": 1001, "name": "Olívia"},
                    "campaign": {"id": 7, "name": "C"},
                    "speaking_time": 62,
                }
            }
        },
        {
            "callHistory": {
                "_id": "h1",
                "number": "5511987654321",
                "status": 7,
                "mailing_data": {"identifier": "__ID__"},
                "agent": {"id": 1001},
            }
        },
    ],
)
def test_call_history_in_both_shapes(client, tenant, make_client, body):
    wallet_client = make_client()
    body = json.loads(json.dumps(body).replace("__ID__", str(wallet_client.pk)))
    assert post(client, tenant, body).status_code == 201
    event = DialerCallEvent.objects.get()
    assert (event.event, event.call_id, event.status, event.client) == (
        "call-history-was-created",
        "h1",
        "7",
        wallet_client,
    )


def test_idempotent_per_event_and_call(client, tenant, make_client):
    wallet_client = make_client()
    assert post(client, tenant, connected(wallet_client.pk)).status_code == 201
    response = post(client, tenant, {"call-was-connected": connected(wallet_client.pk)})
    assert response.status_code == 200 and response.json()["repetido"]
    assert DialerCallEvent.objects.count() == 1


def test_unknown_secret_is_a_404_and_malformed_bodies_a_400(client, tenant):
    assert post(client, tenant, connected(), secret="nao-existe").status_code == 404
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    for body in (
        b"{nao e json",
        b"[1, 2]",
        json.dumps({"call": {"phone": "1"}}).encode(),
        json.dumps({"event": "outra-coisa"}).encode(),
    ):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["erro"]
    assert client.get(url).status_code == 405
    assert not DialerCallEvent.objects.exists()


def test_client_resolved_by_phone_when_no_identifier_and_never_across_tenants(
    client, tenant, other_tenant, make_client
):
    mine = make_client(phones=("+5511955554444",))
    theirs = make_client(tenant=other_tenant, phones=("+5511966665555",))
    post(client, tenant, connected("", phone="5511955554444", call_id="c1"))
    post(client, tenant, connected(theirs.pk, phone="5511966665555", call_id="c2"))
    post(client, tenant, connected("", phone="11900001111", call_id="c3"))
    events = {e.call_id: e.client for e in DialerCallEvent.objects.all()}
    assert events == {"c1": mine, "c2": None, "c3": None}
    assert all(e.tenant == tenant for e in DialerCallEvent.objects.all())


def test_tenant_admin_sees_copies_and_rotates_the_webhook_url(client, tenant_admin, tenant, operator):
    client.force_login(tenant_admin)
    html = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/" in html
    old = tenant.webhook_secret
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/rotacionar-webhook/")
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.webhook_secret != old and len(tenant.webhook_secret) >= 40
    assert post(client, tenant, connected(), secret=old).status_code == 404
    assert client.get(f"/admin/tenants/tenant/{tenant.pk}/rotacionar-webhook/").status_code == 404
    current = tenant.webhook_secret
    client.force_login(operator)
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/rotacionar-webhook/")
    assert response.status_code == 302 and "/admin/login/" in response.url
    tenant.refresh_from_db()
    assert tenant.webhook_secret == current


def test_next_call_is_only_the_operators_and_after_the_starting_point(client, tenant, operator, make_client):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    wallet_client = make_client()
    post(client, tenant, connected(wallet_client.pk, call_id="antes"))
    client.force_login(operator)
    start = client.get("/atendimento/proxima-ligacao/").json()
    assert start["chamada"] is None and start["ultimo"] > 0
    other = connected(wallet_client.pk, call_id="outro-agente")
    other["call"]["agent"] = "1002"
    post(client, tenant, other)
    assert client.get("/atendimento/proxima-ligacao/", {"depois": start["ultimo"]}).json()["chamada"] is None
    post(client, tenant, connected(wallet_client.pk, call_id="minha"))
    call = client.get("/atendimento/proxima-ligacao/", {"depois": start["ultimo"]}).json()["chamada"]
    assert call["url"] == f"/atendimento/{wallet_client.pk}/?call_id=minha"


def test_bodies_found_by_the_property_tests_are_answered_not_crashed(client, tenant):
    """Regressions: Infinity is not JSON for our database, and 3C Plus text longer than a column is cut."""
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    response = client.post(url, '{"call": {"id": "c1", "status": Infinity}}', content_type="application/json")
    assert response.status_code == 400 and "Infinity" in response.json()["erro"]
    response = client.post(url, '{"call": {"id": "c2", "phone": "\\u0000"}}', content_type="application/json")
    assert response.status_code == 400
    long_mode = {"call": {"id": "c3", "call_mode": "m" * 100, "agent": "a" * 100}}
    response = post(client, tenant, long_mode)
    assert response.status_code == 201
    event = DialerCallEvent.objects.get(call_id="c3")
    assert event.call_mode == "m" * 20 and event.agent_id == "a" * 40
