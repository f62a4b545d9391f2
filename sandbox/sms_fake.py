"""A fake of Twilio's Messages API for SMS: pure Python, no Django.

From Twilio's public API reference: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From,
Body, StatusCallback, HTTP basic auth (account SID, auth token); answers 201 {"sid": "SM…", "status": "queued",
"to", "from", "body"}; errors {"code", "message", "status"} (20003 authentication, 21211 invalid To). The
StatusCallback is a form POST with MessageSid and MessageStatus (sent, delivered, undelivered, failed), signed with
X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL + sorted key/value pairs)) ("Webhooks security" page).
An auth token starting "sandbox-sms-" opens the API.
"""

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
from urllib.parse import parse_qs, urlencode

from sandbox.whatsapp_fake import http_post

TOKEN_PREFIX = "sandbox-sms-"


class SmsSandbox:
    def __init__(self, *, post=http_post):
        self.post = post
        self.lock = threading.RLock()
        self.messages: dict[str, dict] = {}
        self._ids = itertools.count(1)

    def handle(self, method, path, query, headers, body):
        match = re.match(r"^/2010-04-01/Accounts/([A-Za-z0-9]+)/Messages\.json$", path)
        auth = headers.get("authorization", "")
        try:
            account, token = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            account, token = "", ""
        if not token.startswith(TOKEN_PREFIX) or (match and match.group(1) != account):
            return self._error(401, 20003, "Authenticate")
        if method != "POST" or not match:
            return self._error(404, 20404, "The requested resource was not found")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        to = form.get("To", "")
        if not re.match(r"^\+[1-9][0-9]{9,14}$", to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sid = f"SM{next(self._ids):032x}"
        message = {"sid": sid, "status": "queued", "to": to, "from": form.get("From", ""), "body": form.get("Body", "")}
        with self.lock:
            self.messages[sid] = {**message, "callback": form.get("StatusCallback", ""), "token": token}
        return 201, {"Content-Type": "application/json"}, json.dumps(message).encode()

    def advance(self, sid: str, status: str) -> int | None:
        """The carrier reports the message sent, delivered, undelivered or failed: the StatusCallback is posted."""
        with self.lock:
            message = self.messages.get(sid)
            if message is None or not message["callback"]:
                return None
            message["status"] = status
        params = {"MessageSid": sid, "MessageStatus": status, "To": message["to"]}
        data = message["callback"] + "".join(f"{k}{params[k]}" for k in sorted(params))
        signature = base64.b64encode(hmac.new(message["token"].encode(), data.encode(), hashlib.sha1).digest()).decode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        return self.post(message["callback"], urlencode(params).encode(), headers)

    def _error(self, status, code, text):
        return (
            status,
            {"Content-Type": "application/json"},
            json.dumps({"code": code, "message": text, "status": status}).encode(),
        )
