"""The 3C Plus API: the only code that talks HTTP to 3C Plus.

Built from 3C Plus's OpenAPI description. Every response carries the envelope
{status, title, detail, transaction_id, data[, meta.pagination]}; errors become the typed DialerError family.
"""

import json
import logging
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from common.call_ids import is_call_id
from common.parsing import try_parse_phone
from dialer.errors import (
    AuthenticationError,
    DialerError,
    NotConfiguredError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UnexpectedResponseError,
    UnknownOutcomeError,
    ValidationError,
)
from dialer.settings_schema import api_url_allowed

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)


def path_segment(value) -> str:
    """A value as exactly one URL path segment: its "/", "?", "#" or a ".." cannot reach another endpoint."""
    segment = quote(str(value), safe=":")
    if set(segment) <= {"."}:
        segment = segment.replace(".", "%2E")  # "." and ".." would be resolved away by URL normalisation
    return segment


def dial_number(e164: str) -> str:
    """A stored phone as 3C Plus takes it: area code + number, digits only (+5511987654321 -> 11987654321)."""
    digits = e164.lstrip("+")
    return digits[2:] if digits.startswith("55") else digits


def phone_e164(number: str) -> str | None:
    """A number 3C Plus sends back (digits, with or without the country code: 5511987654321 or 11987654321)
    as we store phones, or None."""
    if number and not number.startswith("+") and number.startswith("55") and len(number) >= 12:
        number = "+" + number
    return try_parse_phone(number) if number else None


class MailingBatch:
    """mailing.json items already encoded as JSON: a client's `data` is encoded once and shared by its phones, and
    the batch is posted as it is, with no encoding at sending time."""

    def __init__(self):
        self._items: list[str] = []
        self._keys: list[tuple[str, str]] = []  # each item's (identifier, phone): see without()

    def add(self, phone: str, identifier: str, data_json: str) -> None:
        """One contact; `data_json` is its `data` object as JSON text (json.dumps)."""
        self._keys.append((identifier, phone))
        phone = phone if phone.isascii() and phone.isdigit() else json.dumps(phone)[1:-1]
        identifier = identifier if identifier.isascii() and identifier.isdigit() else json.dumps(identifier)[1:-1]
        self._items.append(f'{{"phone":"{phone}","identifier":"{identifier}","data":{data_json}}}')

    def __len__(self) -> int:
        return len(self._items)

    def without(self, keys: set[tuple[str, str]]) -> "MailingBatch":
        """The batch less the (identifier, phone) contacts in `keys`: those who may no longer be called when their
        turn to go comes."""
        kept = MailingBatch()
        for key, item in zip(self._keys, self._items, strict=True):
            if key not in keys:
                kept._keys.append(key)
                kept._items.append(item)
        return kept

    def encode(self) -> bytes:
        return f"[{','.join(self._items)}]".encode()


# A recording is streamed to the browser as it comes, bounded: a call of hours in WAV is ~100 MB, so an answer
# claiming more, or still sending after RECORDING_SECONDS, is cut.
RECORDING_MAX_BYTES = 200 * 1024 * 1024
RECORDING_SECONDS = 300.0
RECORDING_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
RECORDING_CHUNK = 64 * 1024
# The swagger: "audio/mpeg, audio/wave or audio/gsm"; the usual spellings of the same formats are taken too, and
# passed on as browsers name them (Chromium plays "audio/wav", not always "audio/wave").
RECORDING_TYPES = {
    "audio/mpeg": "audio/mpeg",
    "audio/mp3": "audio/mpeg",
    "audio/wave": "audio/wav",
    "audio/wav": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/gsm": "audio/gsm",
    "audio/ogg": "audio/ogg",
}
# One range of bytes (what audio players ask to seek); anything else is dropped and the whole file is asked for.
BYTE_RANGE_RE = re.compile(r"bytes=(?:[0-9]{1,15}-[0-9]{0,15}|-[0-9]{1,15})")


@dataclass
class Recording:
    """A call's recording as 3C Plus answers it: 200 (the whole file) or 206 (the range asked for). `headers` are
    only the ones a player needs, checked (never 3C Plus's others). Iterate `chunks` once; `close()` when done
    (iterating to the end closes too)."""

    status: int
    headers: dict
    _response: httpx.Response = field(repr=False)
    _deadline: float = field(repr=False)

    @property
    def chunks(self) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in self._response.iter_bytes(RECORDING_CHUNK):
                sent += len(chunk)
                if sent > RECORDING_MAX_BYTES or time.monotonic() > self._deadline:
                    logger.warning("Gravação do 3C Plus cortada: grande ou lenta demais (%d bytes)", sent)
                    return
                yield chunk
        except httpx.HTTPError as error:  # the player gets a short file; nothing to answer any more
            logger.info("Gravação do 3C Plus interrompida: %s", type(error).__name__)
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0  # a Retry-After longer than this is not worth holding a worker for

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        # Exponential backoff with full jitter.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class ThreeCPlusAPI:
    """One per tenant configuration; its httpx.Client keeps connections open across calls."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        agent_id: str | None = None,
        token_in_query: bool = False,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep=time.sleep,
    ):
        if not api_url_allowed(base_url):
            # The token goes only to 3C Plus: a URL saved before the rule, or typed elsewhere, never receives it.
            raise NotConfiguredError(
                "A URL da API não é um endereço do 3C Plus (https://empresa.3c.plus): corrija nas configurações."
            )
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._token = token
        self._token_in_query = token_in_query
        headers = {"Accept": "application/json", "User-Agent": "cobranca-backoffice/1.0"}
        if not token_in_query:
            headers["Authorization"] = f"Bearer {token}"
        if agent_id:
            headers["X-Agent-Id"] = str(agent_id)
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=5, max_connections=10),
        )

    def __repr__(self):
        return f"ThreeCPlusAPI({self.base_url!r})"

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # The API ---------------------------------------------------------------------------------
    def list_campaigns(self, *, search: str | None = None, paused: bool | None = None) -> list[dict]:
        params = {}
        if search:
            params["search"] = search
        if paused is not None:
            params["paused"] = "true" if paused else "false"
        return list(self._paginate("campaigns", params))

    def get_campaign(self, campaign_id: int) -> dict:
        return self._request("GET", f"campaigns/{campaign_id}")["data"]

    def list_lists(self, campaign_id: int) -> list[dict]:
        return list(self._paginate(f"campaigns/{campaign_id}/lists", {}))

    def create_list(self, campaign_id: int, name: str) -> dict:
        return self._request("POST", f"campaigns/{campaign_id}/lists", data={"name": name})["data"]

    def add_mailing(self, campaign_id: int, list_id: int, contacts: list[dict] | MailingBatch) -> None:
        """POST mailing.json: a JSON array of {phone, identifier, data}; 204 on success."""
        path = f"campaigns/{campaign_id}/lists/{list_id}/mailing.json"
        if isinstance(contacts, MailingBatch):
            self._request("POST", path, content=contacts.encode())
        else:
            self._request("POST", path, json=contacts)

    def delete_mailing(self, campaign_id: int, contacts: list[dict]) -> None:
        """DELETE mailing/delete: a JSON array of {phone, identifier}; removes them from the campaign's lists."""
        self._request("DELETE", f"campaigns/{campaign_id}/mailing/delete", json=contacts)

    def update_list_weight(self, campaign_id: int, list_id: int, weight: int) -> dict:
        return self._request(
            "PUT", f"campaigns/{campaign_id}/lists/{list_id}/updateWeight", data={"weight": str(weight)}
        )["data"]

    def list_calls(self, start: str, end: str | None = None) -> Iterator[dict]:
        """GET /calls (manager token): the call reports since `start` ("Y-m-d H:i:s"), with the mailing data."""
        params = {"start_date": start, "with_mailing": "true"}
        if end:
            params["end_date"] = end
        return self._paginate("calls", params)

    def list_qualification_lists(self) -> list[dict]:
        return list(self._paginate("qualification_lists", {}))

    def list_qualifications(self, qualification_list_id: int) -> list[dict]:
        return list(self._paginate(f"qualification_lists/{qualification_list_id}/qualifications", {}))

    def qualify_call(
        self,
        call_id: str,
        qualification_id: int,
        *,
        note: str = "",
        manual: bool = False,
        callback_phone: str | None = None,
        callback_at=None,
    ) -> None:
        """Agent credentials only (a service token with the agent role plus X-Agent-Id)."""
        if not is_call_id(call_id):  # nothing else may become part of the qualify URL
            raise ValidationError("ID da ligação inválido: a qualificação não foi enviada ao 3C Plus.")
        call_id = path_segment(call_id)
        data = {"qualification_id": str(qualification_id)}
        if note:
            data["qualification_note"] = note
        if manual:
            self._request("POST", f"agent/manual_call/{call_id}/qualify", data=data)
            return
        if callback_at is not None:
            data["date"] = callback_at.strftime("%Y-%m-%d %H:%M:%S")
            if callback_phone:
                data["phone"] = callback_phone
            if note:
                data["note"] = note
        self._request("POST", f"agent/call/{call_id}/qualify", data=data)

    def recording(self, call_id: str, range_header: str = "") -> Recording:
        """GET /calls/{id}/recording, the call-history id (its `_id`): the audio streamed, honouring one byte range.

        Raises NotFoundError (no such call or no recording), AuthenticationError, UnavailableError, or
        UnexpectedResponseError for an answer that is not audio or too big."""
        if not is_call_id(call_id):
            raise NotFoundError("Gravação não encontrada.")
        headers = {"Accept": "audio/*"}
        range_header = (range_header or "").strip()
        if BYTE_RANGE_RE.fullmatch(range_header):
            headers["Range"] = range_header
        params = {"api_token": self._token} if self._token_in_query else None
        request = self._http.build_request(
            "GET",
            f"calls/{path_segment(call_id)}/recording",
            params=params,
            headers=headers,
            timeout=RECORDING_TIMEOUT,
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise UnavailableError(
                "Tempo esgotado ao buscar a gravação no 3C Plus.", detail=type(error).__name__
            ) from None
        except httpx.TransportError as error:
            raise UnavailableError(
                "Falha de rede ao buscar a gravação no 3C Plus.", detail=type(error).__name__
            ) from None
        try:
            return self._recording_answer(response)
        except DialerError:
            response.close()
            raise

    def _recording_answer(self, response: httpx.Response) -> Recording:
        if response.status_code >= 400:
            response.read()  # an error envelope: small, and _error_for reads its detail
            raise _error_for(response)
        if response.status_code not in (200, 206):
            raise UnexpectedResponseError(
                f"Erro {response.status_code} do 3C Plus ao buscar a gravação.", status=response.status_code
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in RECORDING_TYPES:
            raise UnexpectedResponseError("O 3C Plus não respondeu com um áudio.", status=response.status_code)
        headers = {"Content-Type": RECORDING_TYPES[content_type], "Accept-Ranges": "bytes"}
        length = response.headers.get("Content-Length", "")
        if length.isascii() and length.isdigit() and len(length) <= 15:
            if int(length) > RECORDING_MAX_BYTES:
                raise UnexpectedResponseError("Gravação grande demais para tocar aqui.", status=response.status_code)
            headers["Content-Length"] = length
        if response.status_code == 206:
            content_range = response.headers.get("Content-Range", "")
            if not re.fullmatch(r"bytes [0-9]{1,15}-[0-9]{1,15}/(?:[0-9]{1,15}|\*)", content_range):
                raise UnexpectedResponseError("Resposta parcial do 3C Plus sem Content-Range válido.", status=206)
            headers["Content-Range"] = content_range
        return Recording(response.status_code, headers, response, time.monotonic() + RECORDING_SECONDS)

    # Plumbing --------------------------------------------------------------------------------
    def _paginate(self, path: str, params: dict) -> Iterator[dict]:
        page = 1
        while True:
            body = self._request("GET", path, params={**params, "page": page, "per_page": 100})
            data = body.get("data") or []
            yield from data
            pagination = (body.get("meta") or {}).get("pagination") or {}
            links = pagination.get("links")
            has_next = bool(links.get("next")) if isinstance(links, dict) else False
            total_pages = pagination.get("total_pages")
            if not data or not (has_next or (total_pages and page < int(total_pages))):
                return
            page += 1

    def _request(self, method: str, path: str, *, params=None, data=None, json=None, content=None) -> dict:
        """One call, retried while that is safe: GET, PUT and DELETE on any transient failure; a POST
        (not idempotent: a mailing batch, a qualification, a new list) only when 3C Plus provably did
        not process it (no connection, 429). Otherwise a POST raises UnknownOutcomeError at once."""
        params = dict(params or {})
        idempotent = method.upper() != "POST"
        if self._token_in_query:
            params["api_token"] = self._token
        attempt = 0
        while True:
            attempt += 1
            try:
                if content is not None:  # a JSON body encoded by the caller
                    body = {"content": content, "headers": {"Content-Type": "application/json"}}
                else:
                    body = {"json": json} if json is not None else {}
                response = self._http.request(method, path, params=params or None, data=data, **body)
            except (httpx.ConnectTimeout, httpx.PoolTimeout) as error:  # nothing was sent
                failure = UnavailableError("Tempo esgotado ao falar com o 3C Plus.", detail=type(error).__name__)
                retry_after = None
            except httpx.TimeoutException as error:
                failure = _unsent_or_unknown(
                    idempotent, "Tempo esgotado ao falar com o 3C Plus.", detail=type(error).__name__
                )
                retry_after = None
            except httpx.ConnectError as error:
                failure = UnavailableError(_connect_message(error), detail=type(error).__name__)
                retry_after = None
            except httpx.TransportError as error:
                failure = _unsent_or_unknown(
                    idempotent, "Falha de rede ao falar com o 3C Plus.", detail=type(error).__name__
                )
                retry_after = None
            else:
                if response.status_code < 400:
                    return _body(response)
                failure = _error_for(response)
                if not isinstance(failure, RateLimitedError | UnavailableError):
                    raise failure
                if isinstance(failure, UnavailableError) and not idempotent:
                    raise UnknownOutcomeError(failure.message, status=failure.status, detail=failure.detail)
                retry_after = getattr(failure, "retry_after", None)
            if isinstance(failure, UnknownOutcomeError):
                raise failure
            if attempt >= self.retry.attempts:
                raise failure
            pause = self.retry.delay(attempt, retry_after)
            logger.warning(
                "3C Plus %s %s falhou (%s), tentativa %d de %d; nova tentativa em %.2fs",
                method,
                path,
                failure.detail or failure.status,
                attempt,
                self.retry.attempts,
                pause,
            )
            self._sleep(pause)


def _unsent_or_unknown(idempotent: bool, message: str, *, detail: str) -> UnavailableError:
    return UnavailableError(message, detail=detail) if idempotent else UnknownOutcomeError(message, detail=detail)


def _body(response: httpx.Response) -> dict:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise UnavailableError("Resposta inválida do 3C Plus (não é JSON).", status=response.status_code) from None
    return body if isinstance(body, dict) else {"data": body}


def _connect_message(error: httpx.ConnectError) -> str:
    text = str(error).lower()
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "name resolution" in text
        or ("getaddrinfo" in text)
    ):
        return "Domínio do 3C Plus não encontrado: confira o subdomínio da empresa."
    return "Não foi possível conectar ao 3C Plus."


def _error_for(response: httpx.Response) -> DialerError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = str(body.get("detail") or body.get("title") or "")
    if status in (401, 403) or (status == 400 and detail in ("agent_required", "agent_not_allowed")):
        reason = {
            401: "Token do 3C Plus inválido, expirado ou revogado.",
            403: "O token do 3C Plus não tem permissão para esta operação.",
        }.get(status, "O token do 3C Plus exige (ou não aceita) o ID do agente.")
        return AuthenticationError(reason, status=status, detail=detail)
    if status == 404:
        return NotFoundError("Recurso não encontrado no 3C Plus.", status=status, detail=detail)
    if status == 422:
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        summary = "; ".join(f"{field}: {', '.join(map(str, msgs))}" for field, msgs in errors.items())
        return ValidationError(
            f"O 3C Plus recusou os dados: {summary or detail or 'erro de validação'}.",
            errors=errors,
            status=status,
            detail=detail,
        )
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        try:
            seconds = float(retry_after) if retry_after is not None else None
        except ValueError:
            seconds = None
        return RateLimitedError("O 3C Plus limitou as requisições.", retry_after=seconds, status=status, detail=detail)
    if status >= 500:
        return UnavailableError("O 3C Plus está indisponível no momento.", status=status, detail=detail)
    return UnexpectedResponseError(
        f"Erro {status} do 3C Plus: {detail or 'sem detalhe'}.", status=status, detail=detail
    )
