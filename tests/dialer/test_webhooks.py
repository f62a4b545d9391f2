import json

import pytest
from django.db import connection

from dialer.models import DialerCallEvent, WebhookDelivery


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


def test_unknown_secret_is_a_404_only_malformed_json_a_400_and_other_json_is_kept_unused(client, tenant):
    assert post(client, tenant, connected(), secret="nao-existe").status_code == 404
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    for body in (b"{nao e json", b"", b'{"a": NaN}', b"\xff\xfe{"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["erro"].endswith("."), body
    for body in ([1, 2], {"call": {"phone": "1"}}, {"event": "outra-coisa"}, "texto", None):
        response = post(client, tenant, body)
        assert response.status_code == 202 and response.json()["usado"] is False, body
    assert client.get(url).status_code == 405
    assert not DialerCallEvent.objects.exists()
    results = list(WebhookDelivery.objects.order_by("id").values_list("result", flat=True))
    assert results == ["invalido"] * 4 + ["nao_usado"] * 5


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
    """Regressions: Infinity is not JSON; NUL and 3C Plus text longer than a column are stored, not a 500."""
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    response = client.post(url, '{"call": {"id": "c1", "status": Infinity}}', content_type="application/json")
    assert response.status_code == 400 and "Infinity" in response.json()["erro"]
    response = client.post(url, '{"call": {"id": "c2", "phone": "1\\u00002"}}', content_type="application/json")
    assert response.status_code == 201 and DialerCallEvent.objects.get(call_id="c2").phone == "12"
    long_mode = {"call": {"id": "c3", "call_mode": "m" * 100, "agent": "a" * 100}}
    response = post(client, tenant, long_mode)
    assert response.status_code == 201
    event = DialerCallEvent.objects.get(call_id="c3")
    assert event.call_mode == "m" * 20 and event.agent_id == "a" * 40


def relay(event, payload, event_key="event", data_key="data"):
    return {event_key: event, data_key: payload, "timestamp": "2026-11-29T10:00:00Z"}


@pytest.mark.parametrize(
    ("event_key", "data_key"),
    [("event", "data"), ("event_type", "payload"), ("type", "dados"), ("evento", "data"), ("event", "payload")],
)
def test_relay_envelopes_are_read(client, tenant, make_client, event_key, data_key):
    wallet_client = make_client()
    response = post(client, tenant, relay("call-was-connected", connected(wallet_client.pk), event_key, data_key))
    assert response.status_code == 201
    event = DialerCallEvent.objects.get()
    assert (event.event, event.call_id, event.agent_id, event.client) == (
        "call-was-connected",
        "call:1:2:abc",
        "1001",
        wallet_client,
    )


@pytest.mark.parametrize("name", ["call_was_connected", "CallWasConnected", "call.was.connected"])
def test_relay_event_names_in_other_spellings(client, tenant, make_client, name):
    response = post(client, tenant, relay(name, connected(make_client().pk)))
    assert response.status_code == 201 and DialerCallEvent.objects.get().event == "call-was-connected"


def test_a_relay_envelope_around_the_event_name_key(client, tenant, make_client):
    history = {"callHistory": {"_id": "h9", "number": "5511987654321", "agent": {"id": 1001}}}
    response = post(client, tenant, relay("webhook", {"call-history-was-created": history}))
    assert response.status_code == 201 and DialerCallEvent.objects.get().event == "call-history-was-created"


def test_agent_as_a_top_level_object(client, tenant, make_client):
    body = connected(make_client().pk)
    del body["call"]["agent"]
    body["agent"] = {"id": 1007, "name": "Olívia", "agent_status": 2}
    assert post(client, tenant, body).status_code == 201
    event = DialerCallEvent.objects.get()
    assert (event.agent_id, event.agent_name) == ("1007", "Olívia")


def test_phone_only_in_mailing_data(client, tenant, make_client):
    wallet_client = make_client(phones=("+5511955554444",))
    body = {"call-was-connected": {"call": {"id": "c-md", "agent": "1001"}, "mailing_data": {"phone": "11955554444"}}}
    assert post(client, tenant, body).status_code == 201
    history = {"callHistory": {"_id": "h-md", "mailing_data": {"phone": "5511955554444"}, "agent": {"id": 1001}}}
    assert post(client, tenant, history).status_code == 201
    events = {e.call_id: (e.phone, e.client) for e in DialerCallEvent.objects.all()}
    assert events == {"c-md": ("11955554444", wallet_client), "h-md": ("5511955554444", wallet_client)}


@pytest.mark.parametrize("agent", [0, "0", {"id": 0}])
def test_an_ura_call_with_agent_zero_has_no_agent(client, tenant, operator, make_client, agent):
    operator.membership.threecplus_agent_id = "0"
    operator.membership.save()
    body = connected(make_client().pk)
    body["call"]["agent"] = agent
    body["agent"] = {"id": 0}
    assert post(client, tenant, body).status_code == 201
    assert DialerCallEvent.objects.get().agent_id == ""


def test_an_unused_event_is_kept_as_not_used(client, tenant):
    body = relay("agent-is-idle", {"agent": {"id": 1001}, "api_token": "tok-123"})
    response = post(client, tenant, body)
    assert response.status_code == 202 and response.json() == {"usado": False, "motivo": ANY_TEXT}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.result) == ("agent-is-idle", "nao_usado")
    assert "tok-123" not in delivery.body and "[oculto]" in delivery.body
    assert not DialerCallEvent.objects.exists()


class AnyText(str):
    def __eq__(self, other):
        return isinstance(other, str) and other.endswith(".") and len(other) > 10

    __hash__ = str.__hash__


ANY_TEXT = AnyText()


def test_tenant_admin_sees_the_deliveries_with_tokens_hidden(
    client, tenant, other_tenant, tenant_admin, supervisor, make_client
):
    wallet_client = make_client(name="Joana Devedora")
    body = connected(wallet_client.pk)
    body["token"] = "segredo-do-relay"
    body["url"] = f"https://app.example/dialer/webhooks/3cplus/{tenant.webhook_secret}/?api_token=abc123"
    post(client, tenant, body)
    post(client, tenant, relay("agent-is-idle", {}))
    client.post(f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", b'{"password": "p4ss", ', "application/json")
    post(client, other_tenant, relay("outra-empresa", {}))
    client.force_login(tenant_admin)
    html = client.get("/admin/dialer/webhookdelivery/").content.decode()
    assert "Entregas do webhook" in html or "entregas do webhook" in html
    for text in ("call-was-connected", "agent-is-idle", "Processado", "Não usado", "JSON inválido", "Joana Devedora"):
        assert text in html, text
    assert "outra-empresa" not in html
    for delivery in WebhookDelivery.objects.filter(tenant=tenant):
        page = client.get(f"/admin/dialer/webhookdelivery/{delivery.pk}/change/").content.decode()
        for secret in ("segredo-do-relay", "abc123", "p4ss", tenant.webhook_secret):
            assert secret not in page and secret not in delivery.body
    assert "[oculto]" in page
    foreign = WebhookDelivery.objects.get(tenant=other_tenant)
    assert client.get(f"/admin/dialer/webhookdelivery/{foreign.pk}/change/").status_code == 404
    client.force_login(supervisor)
    assert client.get("/admin/dialer/webhookdelivery/").status_code == 403


def test_the_daily_prune_forgets_only_deliveries_past_the_retention(tenant, other_tenant):
    import datetime

    from django.utils import timezone

    from dialer.calls import RETENTION
    from dialer.tasks import prune_webhook_deliveries

    for owner in (tenant, other_tenant):
        for age in (RETENTION + datetime.timedelta(hours=1), RETENTION - datetime.timedelta(hours=1)):
            delivery = WebhookDelivery.objects.create(tenant=owner, event="x", result=WebhookDelivery.Result.UNUSED)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=timezone.now() - age)
    assert prune_webhook_deliveries.call() == 2
    assert WebhookDelivery.objects.filter(tenant=tenant).count() == 1
    assert WebhookDelivery.objects.filter(tenant=other_tenant).count() == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"url_gravacao": "https://3c.plus/rec/1?api_token=tok-123&x=1"},
        {"Authorization": "Bearer tok-123"},
        {"nested": [{"senha": "tok-123"}]},
        {"origem": "https://app/dialer/webhooks/3cplus/SECRET/"},
        {"tokens": ["tok-123"]},
        {"password": {"valor": "tok-123"}},
    ],
)
def test_a_stored_event_keeps_no_credential(client, tenant, make_client, extra):
    """The delivery log and the stored event: the quick check that skips redaction must not skip these."""
    body = connected(make_client().pk)
    body["mailing"]["data"].update(
        {k: v.replace("SECRET", tenant.webhook_secret) if isinstance(v, str) else v for k, v in extra.items()}
    )
    assert post(client, tenant, body).status_code == 201
    event, delivery = DialerCallEvent.objects.get(), WebhookDelivery.objects.get()
    for kept in (json.dumps(event.raw), delivery.body):
        assert "tok-123" not in kept and tenant.webhook_secret not in kept
        assert "[oculto]" in kept


def test_a_body_with_no_credential_is_kept_as_sent(client, tenant, make_client):
    body = connected(make_client().pk)
    assert post(client, tenant, body).status_code == 201
    assert DialerCallEvent.objects.get().raw == body


def test_a_secret_that_json_escapes_is_still_found():
    from dialer import webhooks

    secret = 'ab"c\\d'
    text = json.dumps({"origem": f"x/{secret}/"}, ensure_ascii=False)
    assert secret not in text  # escaped in the JSON text
    assert webhooks.may_hold_credentials(text, secret)
    assert not webhooks.may_hold_credentials(json.dumps({"origem": "x"}), secret)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_prepared_statement_survives_the_server_forgetting_it(tenant, make_client):
    """A pooler's DISCARD ALL (or anything else that deallocates behind psycopg's back) must not fail every
    later delivery on that connection: the statement is prepared again."""
    from dialer import calls

    wallet_client = make_client()
    first = json.dumps(connected(wallet_client.pk, call_id="c:1")).encode()
    assert calls.receive_webhook(tenant.webhook_secret, first)[0] == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1  # it was prepared
        cursor.execute("DEALLOCATE ALL")  # behind psycopg's back (Django's cursors do not prepare)
    second = json.dumps(connected(wallet_client.pk, call_id="c:2")).encode()
    assert calls.receive_webhook(tenant.webhook_secret, second)[0] == 201
    assert connection.connection.prepare_threshold is None  # Django's setting is back
    assert DialerCallEvent.objects.filter(tenant=tenant).count() == 2
