"""Reading 3C Plus call events: every webhook body shape and every call report become one ParsedEvent.

Pure functions, no database: dialer.calls stores what they read. The body format is undocumented, so any
well-formed JSON is read; what is not an event we use raises UnusedEvent, a body that is not JSON WebhookError.

Shapes read (the socket events call-was-connected and call-history-was-created, and what relays in front of
the socket send):
- the event name as the key: {"call-was-connected": {...}};
- the socket payload itself: {"call": {...}, "mailing": {...}, "agent": {...}} or {"callHistory": {...}};
- a relay envelope {event|event_type|type|evento: name, data|payload|dados: {...}}, possibly nested;
- the agent in call.agent or as the payload's agent object (agent.id); 0 is the URA (no agent);
- the phone in call.phone, mailing.phone, callHistory.number or only in mailing_data.phone.
"""

import dataclasses
import json
import math
import re

from common.parsing import clean_text as clean_parsed_text
from common.parsing import parse_id
from dialer.errors import WebhookError

EVENTS = ("call-was-connected", "call-history-was-created")
EVENT_KEYS = ("event", "event_type", "type", "evento")
DATA_KEYS = ("data", "payload", "dados")
MAX_DEPTH = 32  # deeper parts of a body are kept as a marker: nothing we read is that deep
# A key naming a credential, anywhere in the key and in any case (api_token, X-Api-Key, Set-Cookie, client_secret).
SENSITIVE = (
    r"token|secret|senha|passw|pwd|pass\b|cookie|credential|access[_-]?key|api[_-]?key|private[_-]?key"
    r"|authori[sz]ation|signature|jwt"
)
SENSITIVE_KEY = re.compile(SENSITIVE, re.IGNORECASE)
# A whole word that holds a sensitive name, tried from its start only (tried at every letter, the pattern was cubic).
SENSITIVE_NAME = rf"(?<![\w-])(?=[\w-]*?(?:{SENSITIVE}))[\w-]+"
# The same inside text (a string value, a body that is not JSON), each keeping its name and hiding the value.
SENSITIVE_TEXT = (
    # "api_token": "…" or "pwd": 123 in JSON-like text (an object under the key is read key by key)
    (re.compile(rf'("[^"]*(?:{SENSITIVE})[^"]*"\s*:\s*)(?:"[^"]*"|[^,{{}}\[\]\s]+)', re.IGNORECASE), '"{}"'),
    # a header line: Authorization: Bearer …, Cookie: a=1; b=2 (the rest of the line)
    (re.compile(rf"(^[ \t]*{SENSITIVE_NAME}[ \t]*:[ \t]*)[^\r\n]+", re.IGNORECASE | re.MULTILINE), "{}"),
    # a scheme and its credential anywhere: Bearer …, Basic …
    (re.compile(r"(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), "{}"),
    # name=value or name: value, in a query string, a form-encoded body or free text
    (re.compile(rf"({SENSITIVE_NAME}\s*[:=]\s*)[^\s&\"',;]+", re.IGNORECASE), "{}"),
)
HIDDEN = "[oculto]"


class UnusedEvent(Exception):
    """Valid JSON that is not an event we use (or lacks what we need): stored as "não usado"."""

    def __init__(self, reason: str, event: str = ""):
        super().__init__(reason)
        self.event = event


@dataclasses.dataclass
class ParsedEvent:
    event: str
    call_id: str
    telephony_id: str
    call_mode: str
    identifier: str
    mailing_data: dict
    agent_id: str
    phone: str
    campaign_id: str
    status: str
    qualification: dict
    duration_seconds: int | None = None
    recording_url: str = ""
    agent_name: str = ""
    sid: str = ""


# Reading the body ----------------------------------------------------------------------------------
def load(raw: bytes):
    """The body as JSON, or WebhookError. Deeper than the parser can go is still JSON: see clean()."""
    if not raw.strip():
        raise WebhookError("O corpo está vazio; esperava JSON.")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        return {"_aninhamento": "profundo demais para ler"}
    except ValueError:  # includes bytes that are not UTF-8
        raise WebhookError("JSON inválido.") from None


def _reject_constant(name):
    raise WebhookError(f"JSON inválido: {name} não é um número.")


def clean(value, depth: int = 0):
    """What PostgreSQL's jsonb can hold: finite numbers, no NUL, no lone surrogates, bounded depth."""
    if depth > MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {clean_text(str(k)): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 1e309 reads as inf
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    if isinstance(value, str):
        return clean_text(value)
    return value


def clean_text(text: str) -> str:
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) cannot be stored
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def redact(value, *secrets: str):
    """The body with credentials hidden: whatever is under a credential's key, credentials inside text, and the
    given secrets (the webhook's, the tenant's 3C Plus tokens) wherever they are, keys included, in any case."""
    if isinstance(value, dict):
        # Under a credential's key the whole value goes, a list or an object included.
        return {
            redact_text(k, *secrets): HIDDEN if SENSITIVE_KEY.search(k) else redact(v, *secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, *secrets) for v in value]
    if isinstance(value, str):
        return redact_text(value, *secrets)
    return value


CREDENTIAL_HINT = re.compile(rf"{SENSITIVE}|bearer|basic", re.IGNORECASE)


def may_hold_credentials(text: str, *secrets: str) -> bool:
    """False when redact() would change nothing in the body whose JSON is `text`: no key or value that names a
    credential (the ?token=… values included) and none of the secrets."""
    if CREDENTIAL_HINT.search(text) is not None:
        return True
    # A secret as it appears inside the JSON text (escaped, should it hold a quote or a backslash).
    folded = text.casefold()
    return any(
        secret and (secret.casefold() in folded or json.dumps(secret, ensure_ascii=False)[1:-1].casefold() in folded)
        for secret in secrets
    )


def redact_text(text: str, *secrets: str) -> str:
    for pattern, hidden in SENSITIVE_TEXT:
        text = pattern.sub(lambda match, hidden=hidden: match.group(1) + hidden.format(HIDDEN), text)
    for secret in secrets:
        if secret:
            text = re.sub(re.escape(secret), HIDDEN, text, flags=re.IGNORECASE)
    return text


# Shapes -------------------------------------------------------------------------------------------
def event_name(label: str) -> str:
    """call-was-connected, call_was_connected, CallWasConnected and "call.was.connected" are one name."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", label.strip())
    return re.sub(r"[\s_.:]+", "-", text).lower()[:80]


def unwrap(body) -> tuple[str, object]:
    """(event name or "", the event's payload) through the event-name key and relay envelopes."""
    event = ""
    for _level in range(4):
        if not isinstance(body, dict):
            break
        named = next((name for name in EVENTS if name in body), None)
        if named:
            return named, body[named]
        label = next((body[k] for k in EVENT_KEYS if isinstance(body.get(k), str) and body[k].strip()), None)
        inner = next((body[k] for k in DATA_KEYS if isinstance(body.get(k), dict)), None)
        if label is not None and not event:
            event = event_name(label)
        if inner is None:
            break
        body = inner
    if not event and isinstance(body, dict):
        if "callHistory" in body:
            event = "call-history-was-created"
        elif "call" in body:
            event = "call-was-connected"
    return event, body


def parse(body) -> ParsedEvent:
    """The event we use in any shape above, or UnusedEvent saying why it is not one."""
    event, payload = unwrap(body)
    if not event:
        raise UnusedEvent("Nenhum evento reconhecível no corpo.")
    if event not in EVENTS:
        raise UnusedEvent("Evento não usado por este sistema.", event)
    if not isinstance(payload, dict):
        raise UnusedEvent("O evento não é um objeto JSON.", event)
    parsed = _history(payload) if event == "call-history-was-created" else _connected(payload)
    if not parsed.call_id:
        raise UnusedEvent("O evento não tem o ID da ligação.", event)
    return parsed


def _connected(payload: dict) -> ParsedEvent:
    call = _dict(payload.get("call")) or payload
    mailing = _dict(payload.get("mailing")) or _dict(payload.get("mailing_data")) or _dict(call.get("mailing_data"))
    return ParsedEvent(
        "call-was-connected",
        _text(call.get("id") or call.get("telephony_id")),
        _text(call.get("telephony_id")),
        _text(call.get("call_mode")),
        _text(call.get("identifier") or mailing.get("identifier")),
        _dict(mailing.get("data")),
        _agent_id(call.get("agent")) or _agent_id(payload.get("agent")),
        _text(call.get("phone") or mailing.get("phone")),
        _text(call.get("campaign_id") or _dict(payload.get("campaign")).get("id")),
        _text(call.get("status")),
        {},
        agent_name=_text(_dict(payload.get("agent")).get("name")),
        sid=_text(call.get("sid")),
    )


def _history(payload: dict) -> ParsedEvent:
    history = _dict(payload.get("callHistory")) or payload
    mailing = _dict(history.get("mailing_data"))
    agent = history.get("agent") if history.get("agent") not in (None, "") else payload.get("agent")
    campaign = history.get("campaign")
    return ParsedEvent(
        "call-history-was-created",
        _text(history.get("_id") or history.get("id") or history.get("telephony_id")),
        _text(history.get("telephony_id")),
        _text(history.get("call_mode")),
        _text(mailing.get("identifier")),
        _dict(mailing.get("data")),
        _agent_id(agent),
        _text(history.get("number") or mailing.get("phone")),
        _text(campaign.get("id") if isinstance(campaign, dict) else campaign),
        _text(history.get("status")),
        read_qualification(history.get("qualification")),
        _seconds(history.get("speaking_time")),
        _url(history.get("recording")),
        _text(_dict(agent).get("name")),
        _text(history.get("sid")),
    )


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)[:120]


def _agent_id(value) -> str:
    """call.agent ("1001") or the agent object ({"id": 1001}); 0 is the URA, not an agent."""
    value = value.get("id") if isinstance(value, dict) else value
    text = _text(value).strip()
    return "" if text in ("0", "False", "None") else text


def _seconds(value) -> int | None:
    """speaking_time is a string in the swagger: "83" or "00:01:23"; "inf" or "1e400" is no duration."""
    text = str(value or "").strip()
    try:
        if ":" in text:
            seconds = 0
            for part in text.split(":"):
                seconds = seconds * 60 + int(part)
        else:
            seconds = int(float(text))
    except (ValueError, OverflowError):
        return None
    return seconds if 0 <= seconds < 10**7 else None


def read_qualification(value) -> dict:
    """The qualification in every shape 3C Plus and relays write it, as {"id": int} and/or {"name": str}; {}
    for none. An integer or numeric text is the id [swagger CallHistoryReport]; an object {id, name} (the history
    event's, whose fields are null when the call was not qualified); any other text is the name [consumers of
    GET /calls]. The name alone is looked up in the tenant's catalogue (dialer.qualifications.find_qualification).
    """
    if isinstance(value, dict):
        found = {}
        qualification_id = parse_id(value.get("id"))
        if qualification_id is not None:
            found["id"] = qualification_id
        name = _name(value.get("name"))
        if name:
            found["name"] = name
        return found
    if isinstance(value, bool) or value is None:
        return {}
    qualification_id = parse_id(value)
    if qualification_id is not None:
        return {"id": qualification_id}
    if isinstance(value, str):
        name = _name(value)
        return {"name": name} if name else {}
    return {}


def _name(value) -> str:
    """A qualification name as text: "-" (reports' "none") and blanks are no name."""
    if not isinstance(value, str):
        return ""
    name = clean_parsed_text(value, 200).strip()
    return "" if name in ("", "-") else name


def _url(value) -> str:
    text = str(value or "").strip()
    return text[:500] if text.startswith(("https://", "http://")) else ""


# Call reports -----------------------------------------------------------------------------------------
def parse_report(report: dict) -> ParsedEvent:
    """A GET /calls CallHistoryReport as the call-history event the webhook would have delivered: its id is the
    history's, and its sid (the connected call's) joins it to the connected event; `agent` is the agent's name."""
    mailing = report.get("mailing_data") if isinstance(report.get("mailing_data"), dict) else {}
    agent = report.get("agent")
    parsed = ParsedEvent(
        "call-history-was-created",
        _text(report.get("id") or report.get("_id")),
        _text(report.get("telephony_id")),
        _text(report.get("mode")),
        _text(mailing.get("identifier")),
        mailing.get("data") if isinstance(mailing.get("data"), dict) else {},
        _agent_id(agent) if isinstance(agent, dict) else "",
        _text(report.get("number")),
        _text(report.get("campaign_id")),
        _text(report.get("status_id")),
        read_qualification(report.get("qualification")),
        _seconds(report.get("speaking_time")),
        _url(report.get("recording")),
        _text(agent.get("name") if isinstance(agent, dict) else agent if agent != "-" else ""),
        _text(report.get("sid")),
    )
    if not parsed.call_id:
        raise WebhookError("O relatório não tem o ID da ligação.")
    return parsed
