"""Request ids on every log line and response, and log records with the credentials of URLs redacted."""

import contextvars
import copy
import logging
import re
import uuid
from collections.abc import Mapping
from numbers import Number

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
# The webhook URL is pasted into 3C Plus by a person: a doubled slash, an upper-case 3CPLUS or a missing segment
# misses the route and the request is logged as a 404, so the secret is found by the path's shape in any case,
# with any run of separators (/ \ and their %2F %5C), and by its own shape where the path is unrecognisable.
SEPARATOR = r"(?:/|\\|%2f|%5c)"
PATH_REST = r"[^\s?#'\"]*"
URL_SECRETS = [
    # All that follows webhooks/3cplus, whatever separates it.
    (re.compile(rf"(?i)(webhooks?{SEPARATOR}+3cplus){PATH_REST}"), r"\1/[segredo]/"),
    # All that follows dialer/webhooks when 3cplus is missing.
    (re.compile(rf"(?i)(dialer{SEPARATOR}+webhooks?)(?!{SEPARATOR}+3cplus){SEPARATOR}{PATH_REST}"), r"\1/[segredo]/"),
    # A path segment with the shape of a generated secret (token_urlsafe(32) has 43 characters) anywhere else.
    (re.compile(r"(?<=[/\\])[A-Za-z0-9_-]{32,}(?=[/\\?#\s'\"]|$)"), "[segredo]"),
    (re.compile(r"(?i)(api_token=)[^&\s'\"]+"), r"\1[segredo]"),
]


def redact(text: str) -> str:
    for pattern, replacement in URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Django logs the path of every 4xx/5xx (django.request) and every request line (django.server), and
    attaches the request itself; the servers log every request line (uvicorn's args, gunicorn's atoms): the
    webhook's path is its secret. The handler writes a redacted copy."""

    def filter(self, record):
        record = copy.copy(record)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):  # gunicorn's access log: a dict of atoms (its own dict type)
            args = copy.copy(record.args)
            for key, value in list(args.items()):
                args[key] = _redacted_arg(value)
            record.args = args
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request = f"{request.method} {redact(request.path)}"
        if record.exc_info:  # a traceback may quote the path; the formatters then print exc_text as is
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def _redacted_arg(arg):
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, Number):  # kept as they are for %d and %.2f
        return arg
    return redact(str(arg))  # an object (a URL, an exception) logged with %s prints its text


def redact_every_handler() -> None:
    """The redaction on every handler of the process, not only ours: uvicorn and gunicorn configure their
    access and error logs before Django starts (their own handlers, not propagated to the root)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
                handler.addFilter(RedactSecretsFilter())


class OneLineClientErrors(logging.Filter):
    """A 4xx (a 403 for a page the role may not open, a 404) is one log line, not a traceback."""

    def filter(self, record):
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
