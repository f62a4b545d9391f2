"""Meta's WhatsApp Cloud API (Graph API): the only code that talks HTTP to WhatsApp.

Shapes from Meta's Cloud API reference: POST /{phone-number-id}/messages answers
{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}; errors come as
{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}} and are mapped by `code` to the typed
MessagingError family. A send is never retried once it may have reached Meta (a lost answer is an
UnknownOutcomeError); reads are retried on connection errors, 429 and 5xx.

pywa (the best-kept Python library for the Cloud API) was considered and left out: it is a bot framework built
around its own webhook server and handler registry, and we need a small client under our own retries, timeouts,
bounded answers and typed errors, like dialer/client.py.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx

from common.parsing import clean_text
from messaging.errors import (
    AuthenticationError,
    InvalidRequestError,
    MessagingError,
    RateLimitedError,
    RecipientError,
    TemplateError,
    UnavailableError,
    UnknownOutcomeError,
    WindowClosedError,
)

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
MAX_ANSWER_BYTES = 2 * 1024 * 1024
MAX_TEMPLATE_PAGES = 20
READ_ATTEMPTS = 3
MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's own limit for images and audio is 5-16 MB

# Graph API error codes (Meta's "Cloud API error codes" page) → our types.
AUTH_CODES = {0, 3, 10, 190, 200, 131005}
RATE_CODES = {4, 80007, 130429, 131048, 131056}
RECIPIENT_CODES = {131021, 131026, 133010}
TEMPLATE_CODES = set(range(132000, 132017))
UNAVAILABLE_CODES = {1, 2, 131000, 131016, 133004}
WINDOW_CODE = 131047


def wa_number(e164: str) -> str:
    """A stored phone (+5511987654321) as the Cloud API takes it: digits with the country code."""
    return e164.lstrip("+")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    category: str
    body: str
    variables: int  # how many {{n}} the body takes


def error_from(status: int, body) -> MessagingError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if type(error.get("code")) is int else None
    detail = clean_text(error.get("message") or "", 300)
    kwargs = {"status": status, "code": code, "detail": detail}
    if code == WINDOW_CODE:
        return WindowClosedError(
            "Fora da janela de 24 horas: só um modelo aprovado pode ser enviado a este cliente.", **kwargs
        )
    if code in TEMPLATE_CODES:
        return TemplateError(f"O WhatsApp recusou o modelo: {detail or code}.", **kwargs)
    if code in RECIPIENT_CODES:
        return RecipientError("Este número não pode receber mensagens de WhatsApp.", **kwargs)
    if code in RATE_CODES or status == 429:
        return RateLimitedError("O WhatsApp limitou os envios; tente de novo em instantes.", **kwargs)
    if code in AUTH_CODES or status in (401, 403):
        return AuthenticationError("O WhatsApp recusou o token de acesso (expirado ou sem permissão).", **kwargs)
    if code in UNAVAILABLE_CODES or status >= 500:
        return UnavailableError("O WhatsApp está indisponível agora; tente de novo.", **kwargs)
    return InvalidRequestError(f"O WhatsApp recusou a mensagem: {detail or status}.", **kwargs)


class WhatsAppAPI:
    def __init__(self, base_url: str, token: str, phone_number_id: str, waba_id: str = "", *, transport=None):
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
            transport=transport,
            follow_redirects=False,
        )

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- transport -------------------------------------------------------------------------------------------------

    def _decode(self, response: httpx.Response):
        content = response.content[: MAX_ANSWER_BYTES + 1]
        if len(content) > MAX_ANSWER_BYTES:
            raise UnavailableError("Resposta do WhatsApp grande demais.", status=response.status_code)
        try:
            return json.loads(content) if content else {}
        except ValueError:
            return None

    def _get(self, path: str, params: dict | None = None):
        for attempt in range(READ_ATTEMPTS):
            try:
                response = self._http.get(path, params=params)
            except httpx.HTTPError as error:
                failure = UnavailableError("Não foi possível falar com o WhatsApp.", detail=type(error).__name__)
            else:
                body = self._decode(response)
                if response.is_success and isinstance(body, dict):
                    return body
                failure = error_from(response.status_code, body)
                if response.is_success:
                    failure = UnavailableError("Resposta do WhatsApp ilegível.", status=response.status_code)
            if not isinstance(failure, (UnavailableError, RateLimitedError)) or attempt == READ_ATTEMPTS - 1:
                raise failure
            time.sleep(min(2.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def _send(self, payload: dict) -> str:
        """POST one message; its wamid. A connection that failed before sending is retried once; after the request
        went out, never (a second message would reach the debtor)."""
        try:
            response = self._http.post(f"{self.phone_number_id}/messages", json=payload)
        except httpx.ConnectError:
            try:
                response = self._http.post(f"{self.phone_number_id}/messages", json=payload)
            except httpx.ConnectError as error:
                raise UnavailableError("Não foi possível falar com o WhatsApp.", detail=type(error).__name__) from None
            except httpx.HTTPError as error:
                raise UnknownOutcomeError("A resposta do WhatsApp não chegou.", detail=type(error).__name__) from None
        except httpx.HTTPError as error:
            raise UnknownOutcomeError("A resposta do WhatsApp não chegou.", detail=type(error).__name__) from None
        body = self._decode(response)
        if not response.is_success:
            raise error_from(response.status_code, body)
        messages = body.get("messages") if isinstance(body, dict) else None
        wamid = (
            messages[0].get("id") if isinstance(messages, list) and messages and isinstance(messages[0], dict) else None
        )
        if not isinstance(wamid, str) or not wamid or len(wamid) > 200:
            raise UnknownOutcomeError("O WhatsApp aceitou a mensagem sem devolver o seu identificador.")
        return wamid

    # -- API -------------------------------------------------------------------------------------------------------

    def send_text(self, to_e164: str, text: str) -> str:
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": wa_number(to_e164),
                "type": "text",
                "text": {"preview_url": False, "body": text},
            }
        )

    def send_template(self, to_e164: str, name: str, language: str, variables: list[str]) -> str:
        components = (
            [{"type": "body", "parameters": [{"type": "text", "text": value} for value in variables]}]
            if variables
            else []
        )
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": wa_number(to_e164),
                "type": "template",
                "template": {"name": name, "language": {"code": language}, "components": components},
            }
        )

    def phone_number(self) -> dict:
        """GET /{phone-number-id}: {"display_phone_number", "verified_name", "quality_rating"} (Testar conexão)."""
        body = self._get(self.phone_number_id, {"fields": "display_phone_number,verified_name,quality_rating"})
        return {
            key: clean_text(body.get(key) or "", 100)
            for key in ("display_phone_number", "verified_name", "quality_rating")
        }

    def approved_templates(self) -> list[Template]:
        """GET /{waba-id}/message_templates, the APPROVED ones, following paging.next (bounded)."""
        if not self.waba_id:
            return []
        found, params, after = [], {"fields": "name,status,language,category,components", "limit": 100}, None
        for _page in range(MAX_TEMPLATE_PAGES):
            body = self._get(f"{self.waba_id}/message_templates", {**params, **({"after": after} if after else {})})
            for item in body.get("data") or []:
                template = parse_template(item)
                if template is not None:
                    found.append(template)
            cursors = (body.get("paging") or {}).get("cursors") or {}
            after = cursors.get("after") if (body.get("paging") or {}).get("next") else None
            if not isinstance(after, str) or not after:
                break
        return found

    def media_url(self, media_id: str) -> dict:
        """GET /{media-id}: {"url", "mime_type"}; the URL needs the token, so the page streams it through us."""
        body = self._get(media_id)
        return {"url": str(body.get("url") or ""), "mime_type": clean_text(body.get("mime_type") or "", 100)}

    def download(self, url: str) -> tuple[bytes, str]:
        """The file at a media URL Meta answered (its CDN, lookaside.fbsbx.com), with the token: only to Meta's hosts
        or the API's own origin (the sandbox), never to wherever an answer points."""
        parsed, base = urlparse(url), urlparse(str(self._http.base_url))
        same_origin = (parsed.scheme, parsed.netloc) == (base.scheme, base.netloc)
        meta_host = parsed.scheme == "https" and (
            parsed.hostname == "graph.facebook.com" or (parsed.hostname or "").endswith(".fbsbx.com")
        )
        if not (same_origin or meta_host) or parsed.username is not None:
            raise InvalidRequestError("Endereço de mídia fora da Meta.")
        try:
            with self._http.stream("GET", url) as response:
                if not response.is_success:
                    raise error_from(response.status_code, None)
                chunks, size = [], 0
                for chunk in response.iter_bytes(64 * 1024):
                    size += len(chunk)
                    if size > MAX_MEDIA_BYTES:
                        raise UnavailableError("Arquivo de mídia grande demais.")
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "application/octet-stream")
        except httpx.HTTPError as error:
            raise UnavailableError("Não foi possível baixar a mídia.", detail=type(error).__name__) from None
        return b"".join(chunks), content_type


def parse_template(item) -> Template | None:
    if not isinstance(item, dict) or item.get("status") != "APPROVED":
        return None
    name, language = item.get("name"), item.get("language")
    if not (isinstance(name, str) and isinstance(language, str)) or len(name) > 512 or len(language) > 15:
        return None
    body = next(
        (
            c.get("text")
            for c in item.get("components") or []
            if isinstance(c, dict) and c.get("type") == "BODY" and isinstance(c.get("text"), str)
        ),
        "",
    )
    body = clean_text(body, 1024)
    variables = len({part.split("}}")[0] for part in body.split("{{")[1:]})
    return Template(name, language, clean_text(item.get("category") or "", 30), body, variables)
