"""Request ids on every log line and response, and log records with the credentials of URLs redacted."""

import contextvars
import copy
import logging
import re
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class RequestIdMiddleware:
    """Takes X-Request-ID from the proxy when it is sane, else makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if INCOMING_ID.match(incoming) else uuid.uuid4().hex
        # Kept until the response is closed (request_finished), so Django's own request log lines,
        # written after the middleware returns, carry it too.
        request_id_var.set(request.request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


@receiver(request_finished)
def _forget_request_id(**kwargs):
    request_id_var.set("-")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


# Credentials that travel in URLs: the webhook's path secret (config/urls.py) and the sandbox's ?api_token=.
URL_SECRETS = [
    (re.compile(r"(/dialer/webhooks/3cplus/)[^/\s?#'\"]+"), r"\1[segredo]"),
    (re.compile(r"(api_token=)[^&\s'\"]+"), r"\1[segredo]"),
]


def redact(text: str) -> str:
    for pattern, replacement in URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Django logs the path of every 4xx/5xx (django.request) and every request line (django.server), and
    attaches the request itself: the webhook's path is its secret. The handler writes a redacted copy."""

    def filter(self, record):
        record = copy.copy(record)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request = f"{request.method} {redact(request.path)}"
        if record.exc_info:  # a traceback may quote the path; the formatters then print exc_text as is
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return record


class OneLineClientErrors(logging.Filter):
    """A 4xx (a 403 for a page the role may not open, a 404) is one log line, not a traceback."""

    def filter(self, record):
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
