"""A fake of Meta's WhatsApp Cloud API (Graph API) for the demo and the tests: pure Python, no Django.

What it reproduces, and from where:
- POST /{phone-number-id}/messages (text and template) answers {"messaging_product": "whatsapp", "contacts":
  [{"input", "wa_id"}], "messages": [{"id": "wamid.…"}]}: Meta's Cloud API reference, "Messages".
- Errors as {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}; 190 for a bad token, 100 for a bad
  parameter, 132001 for a template that does not exist: Meta's "Error codes" page of the Cloud API.
- Free text outside the 24-hour customer-service window is accepted, then reported as a "failed" status with error
  131047 ("Re-engagement message"): Meta's "Error codes" page and its "Conversations/customer service windows" guide.
- GET /{waba-id}/message_templates answers {"data": [{"name", "language", "status", "category", "components"}],
  "paging": {"cursors": {...}}}: Meta's "Message templates" reference.
- GET /{media-id} answers {"url", "mime_type", "sha256", "file_size", "id"}, and the URL, fetched with the same bearer
  token, the file: Meta's "Media" reference (retrieve media URL, download media).
- GET /{phone-number-id} answers {"display_phone_number", "verified_name", "quality_rating", "id"}: "Phone numbers".
- Webhooks: {"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages", "value":
  {"messaging_product", "metadata": {"display_phone_number", "phone_number_id"}, "contacts"|"messages"|"statuses"}}]}]},
  POSTed with X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, raw body): Meta's "Webhooks" reference (Graph API
  "Getting started with webhooks", "Validating payloads"). Statuses go sent → delivered → read.
The token "sandbox-wa-<anything>" opens the API; any other gets 190.
"""

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import urllib.request

TOKEN_PREFIX = "sandbox-wa-"
WINDOW_SECONDS = 24 * 3600
TEMPLATES = [
    {
        "id": "900001",
        "name": "cobranca_lembrete",
        "language": "pt_BR",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [
            {
                "type": "BODY",
                "text": "Olá {{1}}, consta um saldo de {{2}} em aberto. Responda esta mensagem para negociar.",
            }
        ],
    },
    {
        "id": "900002",
        "name": "cobranca_pix",
        "language": "pt_BR",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Olá {{1}}, o PIX da sua próxima parcela: {{2}}"}],
    },
    {
        "id": "900003",
        "name": "promocao_pendente",
        "language": "pt_BR",
        "status": "PENDING",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Oferta especial, {{1}}!"}],
    },
]
ID_RE = re.compile(r"^[0-9]{5,20}$")
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def graph_error(status: int, code: int, message: str, kind: str = "OAuthException"):
    body = {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_hex(8)}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def http_post(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class WhatsAppSandbox:
    def __init__(self, *, post=http_post, clock=time.time):
        self.post = post  # (url, body, headers) -> status: how webhooks reach the app
        self.clock = clock
        self.lock = threading.RLock()
        self.webhooks: dict[str, tuple[str, str]] = {}  # phone number id -> (webhook URL, app secret)
        self.conversations: dict[tuple[str, str], list[dict]] = {}  # (phone number id, wa_id) -> messages
        self.sent: dict[str, dict] = {}  # wamid -> the outbound message
        self.deliveries: list[dict] = []  # every webhook posted, with the answer's status
        self._ids = itertools.count(1)
        self.media: dict[str, dict] = {}  # media id -> {"mime_type", "content"}
        self.base_url = ""  # the API root as the app reaches it (set by the server)

    # -- set-up ----------------------------------------------------------------------------------------------------

    def connect(self, phone_number_id: str, webhook_url: str, app_secret: str) -> None:
        with self.lock:
            self.webhooks[phone_number_id] = (webhook_url, app_secret)

    def _wamid(self) -> str:
        return f"wamid.SBX{next(self._ids):08d}{secrets.token_hex(6).upper()}"

    # -- the Graph API ---------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes):
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer " + TOKEN_PREFIX):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        parts = [p for p in path.strip("/").split("/") if p]
        if parts and re.match(r"^v[0-9]+\.[0-9]+$", parts[0]):
            parts = parts[1:]
        if method == "POST" and len(parts) == 2 and parts[1] == "messages" and ID_RE.match(parts[0]):
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return graph_error(400, 100, "(#100) Invalid JSON", "OAuthException")
            return self._send(parts[0], payload)
        if method == "GET" and len(parts) == 2 and parts[1] == "message_templates" and ID_RE.match(parts[0]):
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"data": TEMPLATES, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}).encode(),
            )
        if method == "GET" and len(parts) == 2 and parts[0] == "download" and parts[1] in self.media:
            media = self.media[parts[1]]
            return 200, {"Content-Type": media["mime_type"]}, media["content"]
        if method == "GET" and len(parts) == 1 and parts[0] in self.media:
            media = self.media[parts[0]]
            answer = {
                "url": f"{self.base_url}/download/{parts[0]}",
                "mime_type": media["mime_type"],
                "sha256": hashlib.sha256(media["content"]).hexdigest(),
                "file_size": len(media["content"]),
                "id": parts[0],
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        if method == "GET" and len(parts) == 1 and ID_RE.match(parts[0]):
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps(
                    {
                        "id": parts[0],
                        "display_phone_number": "+55 11 4000-0000",
                        "verified_name": "Cobrança Sandbox",
                        "quality_rating": "GREEN",
                    }
                ).encode(),
            )
        return graph_error(400, 100, f"(#100) Unsupported request - method type: {method.lower()}")

    def _send(self, pnid: str, payload: dict):
        to = str(payload.get("to") or "")
        kind = payload.get("type")
        if payload.get("messaging_product") != "whatsapp" or not (
            to.isascii() and to.isdigit() and 10 <= len(to) <= 15
        ):
            return graph_error(400, 100, "(#100) Invalid parameter")
        if kind == "text":
            text = (payload.get("text") or {}).get("body")
            if not isinstance(text, str) or not text:
                return graph_error(400, 100, "(#100) Param text['body'] is required")
            shown, template = text, None
        elif kind == "template":
            template = payload.get("template") or {}
            found = next(
                (
                    t
                    for t in TEMPLATES
                    if t["name"] == template.get("name")
                    and t["language"] == (template.get("language") or {}).get("code")
                    and t["status"] == "APPROVED"
                ),
                None,
            )
            if found is None:
                return graph_error(404, 132001, "(#132001) Template name does not exist in the translation")
            values = [
                p.get("text", "")
                for c in template.get("components") or []
                if c.get("type") == "body"
                for p in c.get("parameters") or []
            ]
            shown = found["components"][0]["text"]
            needed = len(set(re.findall(r"\{\{(\d+)\}\}", shown)))
            if len(values) != needed:
                return graph_error(400, 132000, "(#132000) Number of parameters does not match the expected number")
            for index, value in enumerate(values, 1):
                shown = shown.replace("{{" + str(index) + "}}", value)
        else:
            return graph_error(400, 131051, "(#131051) Unsupported message type")
        wamid = self._wamid()
        with self.lock:
            conversation = self.conversations.setdefault((pnid, to), [])
            last_in = max((m["at"] for m in conversation if m["direction"] == "in"), default=None)
            closed = kind == "text" and (last_in is None or self.clock() - last_in > WINDOW_SECONDS)
            message = {
                "id": wamid,
                "direction": "out",
                "body": shown,
                "template": template.get("name") if template else "",
                "at": self.clock(),
                "status": "failed" if closed else "sent",
                "pnid": pnid,
                "to": to,
            }
            conversation.append(message)
            self.sent[wamid] = message
        if closed:
            self._status(message, "failed", error={"code": 131047, "title": "Re-engagement message"})
        else:
            self._status(message, "sent")
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    # -- the debtor's side -----------------------------------------------------------------------------------------

    def reply(self, pnid: str, wa_id: str, text: str, *, name: str = "Devedor", media: dict | None = None) -> dict:
        """The debtor writes (text, or media {"type", "mime_type", "caption"}): stored, and POSTed to the webhook."""
        wamid = self._wamid()
        now = self.clock()
        item = {"from": wa_id, "id": wamid, "timestamp": str(int(now))}
        if media:
            media_id = str(700000 + next(self._ids))
            mime_type = media.get("mime_type", "image/png")
            self.media[media_id] = {"mime_type": mime_type, "content": media.get("content", TINY_PNG)}
            item["type"] = media["type"]
            item[media["type"]] = {"id": media_id, "mime_type": mime_type, "caption": media.get("caption", "")}
        else:
            item.update(type="text", text={"body": text})
        with self.lock:
            self.conversations.setdefault((pnid, wa_id), []).append(
                {"id": wamid, "direction": "in", "body": text or media.get("caption", ""), "at": now, "status": ""}
            )
        value = {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [item]}
        return self._post(pnid, value)

    def advance(self, wamid: str, status: str) -> dict | None:
        """The debtor's phone received (delivered) or opened (read) an outbound message."""
        with self.lock:
            message = self.sent.get(wamid)
            if message is None or message["status"] == "failed":
                return None
            message["status"] = status
        return self._status(message, status)

    def _status(self, message: dict, status: str, error: dict | None = None) -> dict:
        item = {
            "id": message["id"],
            "status": status,
            "timestamp": str(int(self.clock())),
            "recipient_id": message["to"],
        }
        if error:
            item["errors"] = [error]
        return self._post(message["pnid"], {"statuses": [item]})

    def _post(self, pnid: str, value: dict) -> dict:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "100000000000001",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "551140000000", "phone_number_id": pnid},
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload).encode()
        target = self.webhooks.get(pnid)
        status = None
        if target:
            url, secret = target
            signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            status = self.post(url, body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature})
        with self.lock:
            self.deliveries.append({"pnid": pnid, "payload": payload, "answer": status})
            del self.deliveries[:-500]
        return payload

    def conversation_list(self, pnid: str) -> list[dict]:
        with self.lock:
            return [
                {"wa_id": wa_id, "messages": list(messages)}
                for (number, wa_id), messages in sorted(
                    self.conversations.items(), key=lambda kv: -max((m["at"] for m in kv[1]), default=0)
                )
                if number == pnid
            ]
