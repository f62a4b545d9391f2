"""Webhook ingestion's two dialects agree: the PostgreSQL statement and the ORM store the same rows.

dialer.ingestion.store() runs the statement on PostgreSQL and the ORM elsewhere, so a run on one database proves
only one of them. Each implementation is fed the same deliveries here (repeats, a phone two clients share, an
identifier of another tenant's client, values longer than their columns, credentials, NUL and lone surrogates,
numbers JSON holds but jsonb would not) and must store what the webhook promises; on PostgreSQL both run, and
their stored rows are compared whole. On SQLite only the ORM can run.
"""

import hmac
import json

import pytest
from django.db import connection, transaction

from dialer import calls, ingestion
from dialer.models import DialerCallEvent, WebhookDelivery
from tenants.models import Tenant, secret_digest
from tests.dialer.test_webhook_outage import deliver
from tests.dialer.test_webhooks import connected

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement is PostgreSQL's")
IMPLEMENTATIONS = [
    pytest.param(ingestion.store_with_orm, id="orm"),
    pytest.param(ingestion.store_with_statement, id="statement", marks=postgresql_only),
]


@pytest.fixture(autouse=True)
def forget_known_secrets(monkeypatch):
    monkeypatch.setattr(ingestion, "_known_secrets", {})


def history(call_id="h1", identifier="", phone="5511987654321", **extra):
    return {
        "call-history-was-created": {
            "callHistory": {
                "_id": call_id,
                "telephony_id": "abc",
                "sid": "s-1",
                "number": phone,
                "status": 7,
                "qualification": {"id": 5, "name": "Negociar"},
                "mailing_data": {"identifier": str(identifier), "data": {"nome": "Ana"}},
                "agent": {"id": 1001, "name": "Olívia"},
                "campaign": {"id": 7, "name": "C"},
                "speaking_time": "00:01:23",
                "recording": "https://gravacoes.example/h1.mp3",
                **extra,
            }
        }
    }


@pytest.fixture
def wallet(tenant, other_tenant, make_client):
    """Clients named for what the deliveries should find: by id, by a phone two of them share, another tenant's."""
    ana = make_client(name="Ana", phones=("+5511987654321",))
    carla = make_client(name="Carla", phones=("+5511911112222",))
    make_client(name="Bia", phones=("+5511900000000", "+5511911112222"))  # the shared number as her second
    outsider = make_client(name="De fora", tenant=other_tenant, phones=("+5511933334444",))
    return {"ana": ana, "carla": carla, "outsider": outsider}


def deliveries(wallet, secret):
    """(label, raw body) in delivery order."""
    ana, outsider = wallet["ana"].pk, wallet["outsider"].pk
    long_values = connected(ana, call_id="c-long")
    long_values["call"].update(campaign_id="9" * 100, status="s" * 100, call_mode="m" * 50, agent="7" * 60)
    awkward = connected("", phone="5511911112222", call_id="c-awkward")
    awkward["mailing"]["data"].update(
        {
            "nul": "a\x00b",
            "surrogate": "x\ud800y",
            "big": 2**70,
            "real": 0.30000000000000004,
            "api_token": "tok-123",
            "nested": {"senha": "s3cr3t", "ok": [1, 2.5, None, True]},
            "echo": f"the secret {secret} in a value",
            "pad": "ab " * 23_334,  # the log keeps 64 KiB of the body, the event all of it
        }
    )
    return [
        ("connected by id", connected(ana, call_id="c1")),
        ("the same again", {"call-was-connected": connected(ana, call_id="c1")}),
        ("by the phone two clients share", connected("", phone="11911112222", call_id="c2")),
        ("another tenant's id, an unknown phone", connected(outsider, phone="5511933334444", call_id="c3")),
        ("an id too long for one, then the phone", connected("1234567890123456789012", call_id="c4")),
        ("id 0, then the phone", connected("0", phone="5511987654321", call_id="c5")),
        ("history of c1, qualified", history("c1", identifier=ana)),
        ("history again", history("c1", identifier=ana)),
        ("values longer than their columns", long_values),
        ("awkward values", json.loads(json.dumps(awkward))),
        ("nobody", connected("", phone="", call_id="c6")),
    ]


def feed(implementation, tenant, wallet):
    """Every delivery through `implementation`; what each returned, as (event number, client name, created)."""
    secret = tenant.webhook_secret
    results = []
    for _label, body in deliveries(wallet, secret):
        reading = calls.read_delivery(json.dumps(body).encode(), secret)
        assert reading.parsed is not None
        stored = implementation(secret, reading)
        results.append(stored)
    events = list(DialerCallEvent.objects.order_by("id").values_list("id", flat=True))
    names = {c.pk: c.name for c in wallet.values()} | {wallet["ana"].pk: "Ana"}
    names |= dict(DialerCallEvent.objects.filter(client__isnull=False).values_list("client_id", "client__name"))
    return [(events.index(s.event_id), names.get(s.client_id), s.created) for s in results]


def stored_rows(tenant):
    """Every stored event and delivery, ids and arrival times left out, clients by name, events by number."""
    events = list(DialerCallEvent.objects.filter(tenant=tenant).order_by("id").values())
    numbers = {event["id"]: n for n, event in enumerate(events)}
    client_names = dict(DialerCallEvent.objects.filter(client__isnull=False).values_list("client_id", "client__name"))
    for event in events:
        event["client"] = client_names.get(event.pop("client_id"))
        for key in ("id", "received_at", "tenant_id"):
            event.pop(key)
    deliveries = list(WebhookDelivery.objects.filter(tenant=tenant).order_by("id").values())
    for delivery in deliveries:
        delivery["call_event"] = numbers.get(delivery.pop("call_event_id"))
        delivery["client"] = client_names.get(delivery.pop("client_id"))
        for key in ("id", "received_at", "tenant_id"):
            delivery.pop(key)
    return events, deliveries


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_each_implementation_stores_what_the_webhook_promises(implementation, tenant, other_tenant, wallet):
    results = feed(implementation, tenant, wallet)
    assert results == [
        (0, "Ana", True),
        (0, "Ana", False),  # a repeat: the same event, not a second one
        (1, "Carla", True),  # the shared number's first holder by priority
        (2, None, True),  # never another tenant's client
        (3, "Ana", True),
        (4, "Ana", True),
        (5, "Ana", True),  # the history is another kind of event of the same call
        (5, "Ana", False),
        (6, "Ana", True),
        (7, "Carla", True),
        (8, None, True),
    ]
    events, logged = stored_rows(tenant)
    assert [(e["event"], e["call_id"], e["client"]) for e in events] == [
        ("call-was-connected", "c1", "Ana"),
        ("call-was-connected", "c2", "Carla"),
        ("call-was-connected", "c3", None),
        ("call-was-connected", "c4", "Ana"),
        ("call-was-connected", "c5", "Ana"),
        ("call-history-was-created", "c1", "Ana"),
        ("call-was-connected", "c-long", "Ana"),
        ("call-was-connected", "c-awkward", "Carla"),
        ("call-was-connected", "c6", None),
    ]
    history_event = events[5]
    assert history_event["qualification"] == {"id": 5, "name": "Negociar"}
    assert (history_event["duration_seconds"], history_event["sid"], history_event["agent_name"]) == (
        83,
        "s-1",
        "Olívia",
    )
    assert history_event["recording_url"] == "https://gravacoes.example/h1.mp3"
    long_event = events[6]
    assert (long_event["campaign_id"], long_event["status"], long_event["call_mode"], long_event["agent_id"]) == (
        "9" * 40,
        "s" * 40,
        "m" * 20,
        "7" * 40,
    )
    data = events[7]["raw"]["mailing"]["data"]
    assert (data["nul"], data["surrogate"], data["big"], data["real"]) == ("ab", "x?y", str(2**70), 0.30000000000000004)
    assert data["api_token"] == data["nested"]["senha"] == "[oculto]" and tenant.webhook_secret not in data["echo"]
    assert len(data["pad"]) == 70_002 and events[7]["mailing_data"]["pad"] == "ab " * 23_334
    assert [(d["result"], d["call_event"], d["client"]) for d in logged] == [
        ("processado", 0, "Ana"),
        ("repetido", 0, "Ana"),
        ("processado", 1, "Carla"),
        ("processado", 2, None),
        ("processado", 3, "Ana"),
        ("processado", 4, "Ana"),
        ("processado", 5, "Ana"),
        ("repetido", 5, "Ana"),
        ("processado", 6, "Ana"),
        ("processado", 7, "Carla"),
        ("processado", 8, None),
    ]
    awkward_log = logged[9]
    assert len(awkward_log["body"]) == calls.BODY_LIMIT and awkward_log["size"] > 70_000
    assert "tok-123" not in awkward_log["body"] and tenant.webhook_secret not in awkward_log["body"]
    assert not DialerCallEvent.objects.filter(tenant=other_tenant).exists()
    assert not WebhookDelivery.objects.filter(tenant=other_tenant).exists()


@postgresql_only
def test_both_implementations_store_the_same_rows(tenant, other_tenant, wallet):
    def run(implementation):
        with transaction.atomic():  # a savepoint: each implementation starts from the same wallet
            results = feed(implementation, tenant, wallet)
            rows = stored_rows(tenant)
            transaction.set_rollback(True)
        return results, rows

    statement = run(ingestion.store_with_statement)
    orm = run(ingestion.store_with_orm)
    assert statement == orm
    assert not DialerCallEvent.objects.exists()  # both rolled back


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_secret_whose_digest_matches_is_still_compared_in_constant_time(implementation, tenant, monkeypatch):
    """The tenant is found by the secret's digest; a secret with that digest but another value stores nothing."""
    wrong = tenant.webhook_secret[:-1] + ("x" if tenant.webhook_secret[-1] != "x" else "y")
    Tenant.objects.filter(pk=tenant.pk).update(webhook_secret_digest=secret_digest(wrong))
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(ingestion.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    reading = calls.read_delivery(json.dumps(connected(call_id="c1")).encode(), wrong)
    assert implementation(wrong, reading) is None
    assert compared == [(tenant.webhook_secret, wrong)]
    assert not DialerCallEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_receive_webhook_refuses_a_wrong_secret_whatever_the_database(tenant, monkeypatch):
    wrong = tenant.webhook_secret[:-1] + ("x" if tenant.webhook_secret[-1] != "x" else "y")
    Tenant.objects.filter(pk=tenant.pk).update(webhook_secret_digest=secret_digest(wrong))
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(ingestion.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    assert calls.receive_webhook(wrong, json.dumps(connected(call_id="c1")).encode()) is None
    assert (tenant.webhook_secret, wrong) in compared
    assert not DialerCallEvent.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)  # the ASGI endpoint works on threads of its own
def test_the_asgi_fast_path_refuses_a_wrong_secret_compared_in_constant_time(tenant, monkeypatch, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    right = tenant.webhook_secret
    wrong = right[:-1] + ("x" if right[-1] != "x" else "y")
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(ingestion.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    body = json.dumps(connected(call_id="c1")).encode()
    # A secret found valid is remembered; the wrong one, even with the right one's digest, is refused.
    status, _headers, _answer, _read = deliver(right, body)
    assert status == 201 and (right, right) in compared
    Tenant.objects.filter(pk=tenant.pk).update(webhook_secret_digest=secret_digest(wrong))
    monkeypatch.setattr(ingestion, "_known_secrets", {})
    compared.clear()
    status, _headers, answer, read = deliver(wrong, json.dumps(connected(call_id="c2")).encode())
    assert (status, answer, read) == (404, {"erro": "Não encontrado."}, 0)
    assert (right, wrong) in compared
    assert list(DialerCallEvent.objects.values_list("call_id", flat=True)) == ["c1"]
