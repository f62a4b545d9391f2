"""The 3C Plus webhook as a bare ASGI endpoint, for uvicorn (config/asgi.py routes its POSTs here).

Django's request cycle under ASGI (a thread per request, each middleware's hops between threads) costs more than
the ingestion itself, and a delivery needs none of it: no session, no user, no CSRF, no page. This endpoint
checks the secret (in constant time) before it reads a byte of the body, reads at most DIALER_WEBHOOK_MAX_BYTES,
runs dialer.calls.receive_webhook (the Django view's own work) on the shared database threads, and answers the same
statuses and JSON. On PostgreSQL the deliveries go through dialer.group_commit: stored with the others arriving
within a few milliseconds in one transaction, each answered once that transaction's synchronous commit returned.
The host is checked against ALLOWED_HOSTS and the request id is taken or made, as the middleware would.

While the database is away each delivery is answered 503 within DIALER_WEBHOOK_DB_TIMEOUT_SECONDS instead of
waiting for a connection (3C Plus retries it; 64 deliveries do not pile up behind one another).
"""

import asyncio
import json
import logging
import uuid

from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from django.urls.resolvers import RoutePattern

from common import async_db
from core.observability import INCOMING_ID, request_id_var
from dialer import calls, group_commit, ingestion
from dialer.views import WEBHOOK_ROUTE

logger = logging.getLogger(__name__)

# The route config/urls.py mounts the Django view on, matched as Django's resolver matches it (after the leading "/").
ROUTE = RoutePattern(WEBHOOK_ROUTE, is_endpoint=True)


def webhook_secret(path: str) -> str | None:
    """The secret in a path of the webhook's route, or None for any other path."""
    match = ROUTE.match(path[1:]) if path.startswith("/") else None
    return match[2]["secret"] if match else None


def handles(scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and webhook_secret(scope["path"]) is not None


async def webhook(scope, receive, send) -> None:
    headers = {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope["headers"]}
    incoming = headers.get("x-request-id", "")
    request_id = incoming if INCOMING_ID.match(incoming) else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    extra = []
    try:
        status, answer = await _answer(scope, receive, headers)
    except (TimeoutError, DatabaseError) as error:  # the pool's timeout reaches here as Django's OperationalError
        logger.warning("Webhook do 3C Plus sem banco de dados: %s", type(error).__name__)
        status, answer = 503, {"erro": "Banco de dados indisponível; tente de novo."}
        extra = [(b"retry-after", b"5")]
    except Exception:
        logger.exception("Erro ao receber o webhook do 3C Plus")
        status, answer = 500, {"erro": "Erro interno."}
    finally:
        request_id_var.reset(token)
    body = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"x-content-type-options", b"nosniff"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _answer(scope, receive, headers) -> tuple[int, dict]:
    domain, _port = split_domain_port(headers.get("host", ""))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:  # as HttpRequest.get_host()
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return 400, {"erro": "Host inválido."}
    secret = webhook_secret(scope["path"])
    # The secret first: an unauthenticated request costs one indexed lookup, never its body's memory or parsing.
    known = ingestion.remembered_webhook_secret(secret) or await _with_database(
        ingestion.webhook_secret_is_valid, secret
    )
    if not known:
        logger.warning("Webhook do 3C Plus com segredo desconhecido")
        return 404, {"erro": "Não encontrado."}
    limit = settings.DIALER_WEBHOOK_MAX_BYTES
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        return 413, {"erro": "Corpo grande demais."}
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return 400, {"erro": "Conexão encerrada."}
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return 413, {"erro": "Corpo grande demais."}
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    if group_commit.available():  # answered once its group's synchronous commit returned
        received = await asyncio.wait_for(
            group_commit.receive(secret, body), timeout=settings.DIALER_WEBHOOK_DB_TIMEOUT_SECONDS
        )
    else:
        received = await _with_database(calls.receive_webhook, secret, body)
    if received is None:
        logger.warning("Webhook do 3C Plus com segredo desconhecido")
        return 404, {"erro": "Não encontrado."}
    return received


async def _with_database(function, *args):
    """function(*args) on the database threads, given up (TimeoutError, a 503) after DIALER_WEBHOOK_DB_TIMEOUT_SECONDS:
    during an outage a connection would be awaited for the pool's whole timeout. A call given up before its
    thread took it never runs; one already running finishes on its own (a delivery stored then is a repeat when
    3C Plus retries it, and is answered as one)."""
    return await asyncio.wait_for(async_db.run(function, *args), timeout=settings.DIALER_WEBHOOK_DB_TIMEOUT_SECONDS)
