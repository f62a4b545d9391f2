"""The 3C Plus webhook as a bare ASGI endpoint, for uvicorn (config/asgi.py routes its POSTs here).

Django's request cycle under ASGI (a thread per request, each middleware's hops between threads) costs more than
the ingestion itself, and a delivery needs none of it: no session, no user, no CSRF, no page. This endpoint
reads the body, runs dialer.calls.receive_webhook (the Django view's own work) on the shared database threads,
and answers the same statuses and JSON. The host is checked against ALLOWED_HOSTS, the body against
DATA_UPLOAD_MAX_MEMORY_SIZE, and the request id is taken or made, as the middleware would.
"""

import json
import logging
import re
import uuid

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from common import async_db
from core.observability import INCOMING_ID, request_id_var
from dialer import calls

logger = logging.getLogger(__name__)

PATH = re.compile(r"/dialer/webhooks/3cplus/([^/]+)/")


def handles(scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and PATH.fullmatch(scope["path"]) is not None


async def webhook(scope, receive, send) -> None:
    headers = {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope["headers"]}
    incoming = headers.get("x-request-id", "")
    request_id = incoming if INCOMING_ID.match(incoming) else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    try:
        status, answer = await _answer(scope, receive, headers)
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
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return 400, {"erro": "Conexão encerrada."}
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return 413, {"erro": "Corpo grande demais."}
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    secret = PATH.fullmatch(scope["path"]).group(1)
    received = await async_db.run(calls.receive_webhook, secret, b"".join(chunks))
    if received is None:
        logger.warning("Webhook do 3C Plus com segredo desconhecido")
        return 404, {"erro": "Não encontrado."}
    return received
