"""Parsing 3C Plus webhook bodies (API_NOTES §4 and §6) into one normalised shape.

Two shapes are seen in the wild: the event name as the key ({"call-was-connected": {...}}) and the
socket payload itself ({"call": {...}, "mailing": {...}} or {"callHistory": {...}}).
"""

import dataclasses

from core.models import Client, ClientPhone
from core.parsing import try_parse_phone

EVENTS = ("call-was-connected", "call-history-was-created")


class WebhookError(ValueError):
    """A body we cannot understand: answered with 400 and this message."""


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


def _text(value) -> str:
    return "" if value is None else str(value)[:120]


def _seconds(value) -> int | None:
    """speaking_time is a string in the swagger: "83" or "00:01:23"."""
    text = str(value or "").strip()
    try:
        if ":" in text:
            seconds = 0
            for part in text.split(":"):
                seconds = seconds * 60 + int(part)
        else:
            seconds = int(float(text))
    except ValueError:
        return None
    return seconds if 0 <= seconds < 10**7 else None


def _url(value) -> str:
    text = str(value or "").strip()
    return text[:500] if text.startswith(("https://", "http://")) else ""


def parse(body) -> ParsedEvent:
    if not isinstance(body, dict):
        raise WebhookError("O corpo deve ser um objeto JSON.")
    event = next((name for name in EVENTS if name in body), None)
    payload = body.get(event) if event else body
    if event is None:
        event = body.get("event") or ("call-history-was-created" if "callHistory" in body else "call-was-connected")
        if event not in EVENTS:
            raise WebhookError(f"Evento desconhecido: {event}.")
    if not isinstance(payload, dict):
        raise WebhookError("O evento deve ser um objeto JSON.")
    if event == "call-history-was-created":
        history = payload.get("callHistory", payload)
        if not isinstance(history, dict):
            raise WebhookError("callHistory deve ser um objeto.")
        mailing = history.get("mailing_data") or {}
        call_id = history.get("_id") or history.get("id") or history.get("telephony_id")
        agent = history.get("agent") or {}
        campaign = history.get("campaign") or {}
        parsed = ParsedEvent(
            event,
            _text(call_id),
            _text(history.get("telephony_id")),
            _text(history.get("call_mode")),
            _text(mailing.get("identifier") if isinstance(mailing, dict) else ""),
            mailing.get("data") or {} if isinstance(mailing, dict) else {},
            _text(agent.get("id") if isinstance(agent, dict) else agent),
            _text(history.get("number")),
            _text(campaign.get("id") if isinstance(campaign, dict) else campaign),
            _text(history.get("status")),
            history.get("qualification") if isinstance(history.get("qualification"), dict) else {},
            _seconds(history.get("speaking_time")),
            _url(history.get("recording")),
            _text(agent.get("name") if isinstance(agent, dict) else ""),
        )
    else:
        call = payload.get("call", payload)
        if not isinstance(call, dict):
            raise WebhookError("call deve ser um objeto.")
        mailing = payload.get("mailing") if isinstance(payload.get("mailing"), dict) else {}
        parsed = ParsedEvent(
            event,
            _text(call.get("id") or call.get("telephony_id")),
            _text(call.get("telephony_id")),
            _text(call.get("call_mode")),
            _text(call.get("identifier") or mailing.get("identifier")),
            mailing.get("data") if isinstance(mailing.get("data"), dict) else {},
            _text(call.get("agent")),
            _text(call.get("phone") or mailing.get("phone")),
            _text(call.get("campaign_id")),
            _text(call.get("status")),
            {},
        )
    if not parsed.call_id:
        raise WebhookError("O evento não tem o ID da ligação.")
    return parsed


def resolve_client(tenant, parsed: ParsedEvent):
    """By identifier (our client id) within the tenant, else by phone."""
    if parsed.identifier.isdigit():
        client = Client.objects.filter(tenant=tenant, pk=int(parsed.identifier)).first()
        if client:
            return client
    e164 = phone_e164(parsed.phone)
    if e164:
        phone = ClientPhone.objects.filter(tenant=tenant, number=e164).select_related("client").first()
        if phone:
            return phone.client
    return None


def phone_e164(number: str) -> str | None:
    """3C Plus sends digits, with or without the country code (5511987654321 or 11987654321)."""
    if number and not number.startswith("+") and number.startswith("55") and len(number) >= 12:
        number = "+" + number
    return try_parse_phone(number) if number else None
