"""The 3C Plus API: the only code that talks HTTP to 3C Plus.

Built from 3C Plus's OpenAPI description. Every response carries the envelope
{status, title, detail, transaction_id, data[, meta.pagination]}; errors become the typed DialerError family.
"""

import datetime
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from common.call_ids import is_call_id
from common.parsing import clean_text, parse_id, parse_int, try_parse_phone
from dialer.errors import (
    AuthenticationError,
    DialerError,
    MalformedResponseError,
    NotConfiguredError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UnexpectedResponseError,
    UnknownOutcomeError,
    ValidationError,
)
from dialer.settings_schema import api_url_allowed
from dialer.webhooks import redact_text

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
# A Retry-After beyond this (a day) is a broken header, not a plan: treated as absent, like a negative or NaN one.
RETRY_AFTER_CEILING = 24 * 3600.0
# A list endpoint (campaigns, lists, qualifications) answering "next page" past this many pages is looping.
MAX_LIST_PAGES = 100
PER_PAGE = 100
EXCERPT_CHARACTERS = 200  # of an unexpected answer, kept with its error for an admin to see
MAX_NUMBER_DIGITS = 19  # a bigint; longer numbers in an answer are read as absent


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
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
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
        return self._object(self._request("GET", f"campaigns/{campaign_id}"), "a campanha")

    def list_lists(self, campaign_id: int) -> list[dict]:
        return list(self._paginate(f"campaigns/{campaign_id}/lists", {}))

    def create_list(self, campaign_id: int, name: str) -> dict:
        """The new list; its `id` checked (the export writes it down and posts every batch to it)."""
        body = self._request("POST", f"campaigns/{campaign_id}/lists", data={"name": name})
        created = self._object(body, "a lista criada")
        list_id = parse_id(created.get("id"))
        if list_id is None:
            raise self._malformed("a lista criada", "sem um ID de lista válido", body)
        return {**created, "id": list_id}

    def add_mailing(self, campaign_id: int, list_id: int, contacts: list[dict] | MailingBatch | bytes) -> None:
        """POST mailing.json: a JSON array of {phone, identifier, data} (or that array already encoded); 204 on
        success."""
        path = f"campaigns/{campaign_id}/lists/{list_id}/mailing.json"
        if isinstance(contacts, MailingBatch):
            self._request("POST", path, content=contacts.encode())
        elif isinstance(contacts, bytes):
            self._request("POST", path, content=contacts)
        else:
            self._request("POST", path, json=contacts)

    def delete_mailing(self, campaign_id: int, contacts: list[dict] | bytes) -> None:
        """DELETE mailing/delete: a JSON array of {phone, identifier} (or that array already encoded); removes them
        from the campaign's lists."""
        path = f"campaigns/{campaign_id}/mailing/delete"
        if isinstance(contacts, bytes):
            self._request("DELETE", path, content=contacts)
        else:
            self._request("DELETE", path, json=contacts)

    def update_list_weight(self, campaign_id: int, list_id: int, weight: int) -> dict:
        """A 2xx applied the weight: whatever its body holds, nothing of it is needed."""
        body = self._request(
            "PUT", f"campaigns/{campaign_id}/lists/{list_id}/updateWeight", data={"weight": str(weight)}
        )
        return body["data"] if isinstance(body.get("data"), dict) else {}

    def calls_page(self, start: str, end: str, *, campaigns=(), page: int = 1) -> "CallsPage":
        """One page of GET /calls (manager token): the call reports from `start` to `end` ("Y-m-d H:i:s", the
        company's local time) of these campaigns, with the mailing data.

        simple_paginate: 3C Plus does not count the pages (it answers faster), and links.next says whether
        there is one more. The reports come as they are: the caller bounds each one (dialer.calls).
        """
        params = {
            "start_date": start,
            "end_date": end,
            "with_mailing": "true",
            "simple_paginate": "true",
            "campaigns[]": [str(campaign) for campaign in campaigns],
            "page": page,
            "per_page": PER_PAGE,
        }
        body = self._request("GET", "calls", params=params)
        reports = body.get("data")
        if not isinstance(reports, list):
            raise self._malformed("as ligações", "“data” não é uma lista", body)
        return CallsPage(reports, _has_next(body, page))

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
        """Every item of a list endpoint, each an object; a "next page" that never ends is an error, not a loop."""
        page = 1
        while True:
            body = self._request("GET", path, params={**params, "page": page, "per_page": PER_PAGE})
            data = body.get("data")
            if data is None:
                data = []
            if not isinstance(data, list):
                raise self._malformed(path, "“data” não é uma lista", body)
            if not all(isinstance(item, dict) for item in data):
                raise self._malformed(path, "um item não é um objeto", body)
            yield from data
            if not data or not _has_next(body, page):
                return
            if page >= MAX_LIST_PAGES:
                raise self._malformed(path, f"continua depois de {MAX_LIST_PAGES} páginas", body)
            page += 1

    def _object(self, body: dict, what: str) -> dict:
        data = body.get("data")
        if not isinstance(data, dict):
            raise self._malformed(what, "“data” não é um objeto", body)
        return data

    def _malformed(self, what: str, reason: str, body) -> MalformedResponseError:
        return MalformedResponseError(
            f"Resposta inesperada do 3C Plus para {what}: {reason}.", detail=reason, excerpt=self.excerpt(body)
        )

    def excerpt(self, value) -> str:
        """The start of what 3C Plus answered, as text an admin may see: credentials (the token above all) hidden,
        control characters dropped, cut short."""
        return answer_excerpt(value, self._token)

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


@dataclass(frozen=True)
class CallsPage:
    reports: list  # as they came: anything, each checked by the caller
    has_next: bool


def _has_next(body: dict, page: int) -> bool:
    """links.next (simple pagination), else total_pages; any other shape of `meta` is no next page."""
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if not isinstance(pagination, dict):
        return False
    links = pagination.get("links")
    if isinstance(links, dict) and links.get("next"):
        return True
    total_pages = parse_int(pagination.get("total_pages"))
    return total_pages is not None and page < total_pages


def answer_excerpt(value, *secrets: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            value = "[objeto aninhado demais]"
    return clean_text(redact_text(value[: EXCERPT_CHARACTERS * 4], *secrets), EXCERPT_CHARACTERS)


def decode_json(content: bytes):
    """JSON as 3C Plus (or whatever answers) sent it, bounded: NaN, Infinity and numbers too large to store read as
    null, like too long a run of digits (Python refuses to convert those anyway); ValueError if it is not JSON."""
    try:
        return json.loads(content, parse_constant=_absent, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("JSON aninhado demais") from None


def _absent(_name):
    return None


def _finite_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else None


def _bounded_int(text: str):
    return int(text) if len(text.lstrip("-")) <= MAX_NUMBER_DIGITS else None


def _body(response: httpx.Response) -> dict:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        body = decode_json(response.content)
    except ValueError:
        raise UnavailableError("Resposta inválida do 3C Plus (não é JSON).", status=response.status_code) from None
    return body if isinstance(body, dict) else {"data": body}


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, or None when it is absent, unreadable, negative, not finite or absurdly long (the
    same client serves exports and removals: a broken header must not crash them nor hold a worker)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:  # the HTTP-date form
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    if not math.isfinite(seconds) or not 0 <= seconds <= RETRY_AFTER_CEILING:
        return None
    return seconds


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
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return RateLimitedError("O 3C Plus limitou as requisições.", retry_after=seconds, status=status, detail=detail)
    if status >= 500:
        return UnavailableError("O 3C Plus está indisponível no momento.", status=status, detail=detail)
    return UnexpectedResponseError(
        f"Erro {status} do 3C Plus: {detail or 'sem detalhe'}.", status=status, detail=detail
    )
