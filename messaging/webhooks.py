"""Meta's WhatsApp webhook: the GET handshake and the signed POST of inbound messages and statuses.

Shapes from Meta's "Webhooks" reference for the Cloud API: {"object": "whatsapp_business_account", "entry": [{"id",
"changes": [{"field": "messages", "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [{"from",
"id", "timestamp", "type", "text": {"body"} | "image": {"id", "mime_type", "caption"} | ...}], "statuses": [{"id",
"status": "sent|delivered|read|failed", "timestamp", "recipient_id", "errors": [...]}]}}]}]}. Every POST carries
X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app secret>. Meta retries deliveries and repeats
statuses, so each message id and each (message id, status) is handled once. A bad item is logged and skipped; the
answer is 200 to anything signed and well-formed (Meta disables a webhook that keeps failing).
"""

import datetime
import hashlib
import hmac
import json
import logging

from django.db import transaction
from django.utils import timezone

from attendance.models import Message
from common.parsing import clean_text, try_parse_phone
from messaging import services
from messaging.settings_schema import PHONE_NUMBER_ID, whatsapp_config
from tenants.secrets import SecretError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000  # messages + statuses of one delivery; Meta batches far fewer
MEDIA_TYPES = {"image", "audio", "video", "document", "sticker"}
STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.READ,
    "failed": Message.Status.FAILED,
}


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    if not app_secret or not isinstance(header, str) or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def app_secret_of(tenant) -> str:
    try:
        config = whatsapp_config(tenant.stored_settings)
    except SecretError:
        return ""
    return config.app_secret if config else ""


def timestamp(value):
    text = str(value or "")
    if not (text.isascii() and text.isdigit() and len(text) <= 11):
        return timezone.now()
    moment = datetime.datetime.fromtimestamp(int(text), tz=datetime.UTC)
    now = timezone.now()
    return moment if moment <= now + datetime.timedelta(minutes=5) else now


def handle(tenant, payload) -> dict:
    """Apply one signed delivery; {"messages": n, "statuses": n, "skipped": n}."""
    counts = {"messages": 0, "statuses": 0, "skipped": 0}
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        counts["skipped"] += 1
        return counts
    own_number = str(tenant.setting(PHONE_NUMBER_ID) or "")
    seen = 0
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field") != "messages":
                counts["skipped"] += 1
                continue
            metadata = value.get("metadata") or {}
            if own_number and str(metadata.get("phone_number_id") or "") not in ("", own_number):
                counts["skipped"] += 1  # another number of the same app: not this tenant's
                continue
            for item in (value.get("messages") or [])[: MAX_ITEMS - seen]:
                seen += 1
                try:
                    counts["messages" if inbound(tenant, item) else "skipped"] += 1
                except Exception:
                    logger.exception("Mensagem do WhatsApp ignorada (empresa %s)", tenant.pk)
                    counts["skipped"] += 1
            for item in (value.get("statuses") or [])[: MAX_ITEMS - seen]:
                seen += 1
                try:
                    counts["statuses" if status(tenant, item) else "skipped"] += 1
                except Exception:
                    logger.exception("Situação do WhatsApp ignorada (empresa %s)", tenant.pk)
                    counts["skipped"] += 1
    return counts


def inbound(tenant, item) -> bool:
    if not isinstance(item, dict):
        return False
    wamid = item.get("id")
    sender = str(item.get("from") or "")
    if not isinstance(wamid, str) or not wamid or len(wamid) > 200 or not (sender.isascii() and sender.isdigit()):
        return False
    phone = try_parse_phone("+" + sender[:20])
    if phone is None:
        return False
    kind = item.get("type") if isinstance(item.get("type"), str) else ""
    body, media_type, media_id = "", "", ""
    if kind == "text":
        body = (item.get("text") or {}).get("body") or ""
    elif kind == "button":
        body = (item.get("button") or {}).get("text") or ""
    elif kind == "interactive":
        reply = item.get("interactive") or {}
        reply = reply.get("button_reply") or reply.get("list_reply") or {}
        body = reply.get("title") or ""
    elif kind in MEDIA_TYPES:
        media = item.get(kind) or {}
        media_type, media_id = kind, str(media.get("id") or "")[:200]
        body = media.get("caption") or media.get("filename") or ""
    else:
        body = f"[{clean_text(kind, 20) or 'mensagem'}]"
    body = clean_text(body, services.MAX_TEXT)
    with transaction.atomic():
        client = services.client_for_phone(tenant, phone)
        if client is None:
            logger.info("WhatsApp de número sem cliente (empresa %s)", tenant.pk)
            return False
        if not services.first_time(tenant, f"wa:msg:{wamid}"):
            return False
        services.receive(
            tenant,
            client,
            channel=Message.Channel.WHATSAPP,
            phone=phone,
            body=body,
            external_id=wamid,
            at=timestamp(item.get("timestamp")),
            media_type=media_type,
            media_id=media_id if media_id.isascii() else "",
        )
    return True


def status(tenant, item) -> bool:
    if not isinstance(item, dict):
        return False
    wamid, state = item.get("id"), STATUSES.get(item.get("status"))
    if not isinstance(wamid, str) or not wamid or len(wamid) > 200 or state is None:
        return False
    error = ""
    problems = item.get("errors")
    if isinstance(problems, list) and problems and isinstance(problems[0], dict):
        error = clean_text(problems[0].get("title") or problems[0].get("message") or "", 300)
    return services.apply_status(tenant, wamid, state, error)


def parse(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
