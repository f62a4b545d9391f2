"""The webhook's path secret never reaches a log line, whatever the slashes and the case it was sent with.

3C Plus is given the URL by a person: a doubled slash or an upper-case 3CPLUS misses the route, and the 404's
path (django.request), the request line (django.server, uvicorn's and gunicorn's access logs) and any traceback
printed the secret in clear.
"""

import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.test import Client as HttpClient

from common.processes import stop, wait_until_answering
from core.observability import redact

SECRET = secrets.token_urlsafe(32)
PATHS = [
    "/dialer/webhooks/3cplus/{s}/",
    "/dialer/webhooks/3cplus//{s}/",
    "/dialer/webhooks/3cplus///{s}//",
    "/dialer/webhooks/3CPLUS/{s}/",
    "/DIALER/WEBHOOKS/3CPLUS/{s}/",
    "/Dialer/Webhooks/3CPlus/{s}/",
    "/dialer//webhooks//3cplus/{s}/",
    "/dialer/webhooks/3cplus/%2F{s}/",
    "/dialer/webhooks/3cplus%2F{s}/",
    "/dialer/webhooks/3cplus/%5C{s}/",
    "/dialer/webhooks/3cplus/./{s}/",
    "/dialer/webhooks/3cplus/{s}",
    "/dialer/webhooks/3cplus/{s}/extra/",
    "/dialer/webhooks/3cplus{s}/",
    "/dialer/webhooks/{s}/",
    "/dialer/webhook/3cplus/{s}/",
    "/webhooks/3cplus/{s}/",
    "/{s}/",
    "/dialer/webhooks/3cplus/{s}/?origem=3c",
]


@pytest.mark.parametrize("path", PATHS)
def test_redact_hides_the_secret_in_every_spelling_of_the_path(path):
    line = f'"POST {path.format(s=SECRET)} HTTP/1.1" 404'
    assert SECRET not in redact(line)
    assert "[segredo]" in redact(line)


def test_redact_keeps_the_paths_that_hold_no_secret():
    for line in (
        "Not Found: /admin/dialer/webhookdelivery/12/change/",
        '"GET /atendimento/42/?call_id=call:minha:7:1700000000.1 HTTP/1.1" 200',
        "Not Found: /static/unfold/css/styles.3f2a1b9c8d7e.css",
        "GET /sandbox/3cplus/api/v1/campaigns",
    ):
        assert redact(line) == line


@pytest.mark.django_db
def test_django_logs_no_secret_for_any_spelling(json_log):
    http = HttpClient(raise_request_exception=False)
    for path in PATHS:
        url = path.format(s=SECRET)
        http.get(url)
        http.post(url, "{}", content_type="application/json")
    logged = json_log.getvalue()
    assert "Not Found" in logged and "[segredo]" in logged, logged  # the 404s are logged, without the secret
    assert SECRET not in logged


def serve(command: list[str], output) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DEBUG": "0",  # as in production
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "INFO",
        # No tables: the webhook's own route fails with a traceback, which must not quote the secret either.
        "DATABASE_URL": f"sqlite:///{output.name}.sqlite3",
    }
    command = [sys.executable, "-m", *[part.replace("PORT", str(port)) for part in command]]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_until_answering(f"{url}/healthz", process):
        stop(process)
        pytest.fail("o servidor não subiu")
    return process, url


def request(url: str, method: str) -> None:
    data = b"{}" if method == "POST" else None
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10)
    except urllib.error.HTTPError:
        pass


@pytest.mark.parametrize(
    "command",
    [
        ["uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", "PORT"],  # access log on
        ["gunicorn", "config.wsgi", "--bind", "127.0.0.1:PORT", "--access-logfile", "-", "--error-logfile", "-"],
    ],
    ids=["uvicorn", "gunicorn"],
)
def test_the_servers_access_logs_hold_no_secret(command, tmp_path):
    with open(tmp_path / "server.log", "w+") as output:
        process, url = serve(command, output)
        try:
            for path in PATHS:
                for method in ("GET", "POST"):
                    request(url + path.format(s=SECRET), method)
        finally:
            stop(process)
        output.seek(0)
        logged = output.read()
    assert "3cplus" in logged.lower() and "[segredo]" in logged, logged  # each request line is logged
    assert SECRET not in logged, [line for line in logged.splitlines() if SECRET in line]
