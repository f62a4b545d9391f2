"""The webhook under attack and outage: the secret before the body, a bounded body, a fast 503 without a database."""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError

from dialer import asgi, calls, ingestion
from dialer.models import DialerCallEvent
from tests.dialer.test_webhooks import connected

pytestmark = pytest.mark.django_db(transaction=True)  # the ASGI endpoint works on threads of its own


def deliver(secret: str, body: bytes, *, chunk: int = 64 * 1024, declared: bool = True):
    """One POST through dialer.asgi as uvicorn would hand it over: (status, answer, body bytes the app read)."""
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    read = {"bytes": 0}
    sent = []

    async def receive():
        part = parts.pop(0)
        read["bytes"] += len(part)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    async def send(message):
        sent.append(message)

    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": "POST", "path": f"/dialer/webhooks/3cplus/{secret}/", "headers": headers}
    # On a thread of its own: after a browser test, Playwright's event loop is still running on this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, asgi.webhook(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    return start["status"], dict(start["headers"]), answer, read["bytes"]


@pytest.fixture(autouse=True)
def forget_known_secrets(settings, monkeypatch):
    settings.ALLOWED_HOSTS = ["testserver"]
    monkeypatch.setattr(ingestion, "_known_secrets", {}, raising=False)


def test_an_unknown_secret_is_refused_before_a_byte_of_its_body_is_read(tenant):
    big = b'{"x": "' + b"a" * (2_400_000) + b'"}'  # the attack's 2.4 MB body
    status, _headers, answer, read = deliver("nao-existe", big)
    assert status == 404 and answer == {"erro": "Não encontrado."}
    assert read == 0


def test_the_body_is_bounded_by_its_declared_length_and_by_what_arrives(tenant, settings):
    settings.DIALER_WEBHOOK_MAX_BYTES = 100_000
    body = json.dumps({**connected(), "pad": "a" * 200_000}).encode()
    status, _headers, _answer, read = deliver(tenant.webhook_secret, body)
    assert status == 413 and read == 0  # refused on its Content-Length
    status, _headers, _answer, read = deliver(tenant.webhook_secret, body, declared=False)
    assert status == 413 and read <= 100_000 + 64 * 1024  # refused at the chunk that crossed the limit
    # A real delivery still goes through.
    status, _headers, _answer, _read = deliver(tenant.webhook_secret, json.dumps(connected()).encode())
    assert status in (200, 201, 202) and DialerCallEvent.objects.count() == 1


def test_a_known_secret_is_remembered_and_compared_in_constant_time(tenant, monkeypatch):
    compared = []
    real = ingestion.hmac.compare_digest
    monkeypatch.setattr(ingestion.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    assert ingestion.webhook_secret_is_valid(tenant.webhook_secret)
    lookups = []
    monkeypatch.setattr(ingestion, "webhook_tenant", lambda secret: lookups.append(secret))
    assert ingestion.webhook_secret_is_valid(tenant.webhook_secret)  # from memory, no lookup
    assert not ingestion.webhook_secret_is_valid(tenant.webhook_secret[:-1] + "x")  # a near miss is looked up
    assert lookups == [tenant.webhook_secret[:-1] + "x"] and len(compared) == 2


def test_during_an_outage_a_delivery_is_a_fast_503_not_a_slow_500(tenant, monkeypatch, settings):
    settings.DIALER_WEBHOOK_DB_TIMEOUT_SECONDS = 1
    body = json.dumps(connected()).encode()

    def down(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(ingestion, "webhook_tenant", down)
    status, headers, answer, _read = deliver(tenant.webhook_secret, body)
    assert status == 503 and headers[b"retry-after"] == b"5" and "indisponível" in answer["erro"]

    def waiting_for_a_connection(*args):  # what the pool does while PostgreSQL is down: waits its whole timeout
        time.sleep(5)

    monkeypatch.setattr(ingestion, "webhook_tenant", waiting_for_a_connection)
    started = time.monotonic()
    status, _headers, _answer, _read = deliver(tenant.webhook_secret, body)
    assert status == 503 and time.monotonic() - started < 2


def test_the_django_view_checks_the_secret_first_and_answers_503_during_an_outage(client, tenant, monkeypatch):
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    parsed = []
    monkeypatch.setattr(calls, "read_delivery", lambda *a: parsed.append(a) or pytest.fail("body parsed"))
    assert client.post("/dialer/webhooks/3cplus/nao-existe/", b"{}", content_type="application/json").status_code == 404
    assert parsed == []
    monkeypatch.undo()

    def down(*args):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(calls, "receive_webhook", down)
    response = client.post(url, json.dumps(connected()), content_type="application/json")
    assert response.status_code == 503 and response["Retry-After"] == "5"
