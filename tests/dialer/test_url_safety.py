"""The 3C Plus tokens go only to 3C Plus: the API URL is a 3C Plus host (or one the environment names), the
connection test shows no foreign response body, and a call id stays one path segment of the qualify URL."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from dialer import client as threecplus
from dialer import errors, tenant_api
from dialer.settings_schema import BASE_URL, DOMAIN
from tenants.settings_schema import clean_settings
from tests.dialer.conftest import AGENT_TOKEN, TOKEN

pytestmark = pytest.mark.django_db

FOREIGN = [
    "https://evil.example.com/api/v1",
    "http://minhaempresa.3c.plus/api/v1",  # the token in clear text
    "https://minhaempresa.3c.plus.evil.com/api/v1",
    "https://minhaempresa.3c.plus@evil.com/api/v1",
    "https://3c.plus.evil.com/api/v1",
    "https://a.b.3c.plus/api/v1",
    "http://127.0.0.1:8765/api/v1",
    "http://169.254.169.254/latest/meta-data",
    "https://minhaempresa.3c.plus:8443/api/v1",
]


@pytest.fixture
def production(settings):
    settings.DIALER_SANDBOX = False
    settings.THREECPLUS_ALLOWED_HOSTS = []
    return settings


@pytest.mark.parametrize("url", FOREIGN)
@pytest.mark.parametrize("key", [BASE_URL, DOMAIN])
def test_the_api_url_must_be_a_3cplus_host(production, key, url):
    with pytest.raises(ValidationError) as raised:
        clean_settings({key: url, "threecplus_api_key": TOKEN})
    assert "3c.plus" in str(raised.value.message_dict[key])


@pytest.mark.parametrize(
    "settings_", [{BASE_URL: "https://minhaempresa.3c.plus/api/v1"}, {DOMAIN: "https://MinhaEmpresa.3c.plus"}]
)
def test_a_3cplus_host_is_accepted(production, settings_):
    clean_settings({**settings_, "threecplus_api_key": TOKEN})


def test_the_environment_allow_list_names_other_hosts(production):
    production.THREECPLUS_ALLOWED_HOSTS = ["homologacao.exemplo.com.br", "127.0.0.1"]
    clean_settings({BASE_URL: "https://homologacao.exemplo.com.br/api/v1"})
    clean_settings({BASE_URL: "http://127.0.0.1:8765/api/v1"})
    with pytest.raises(ValidationError):
        clean_settings({BASE_URL: "https://outro.exemplo.com.br/api/v1"})


def test_the_sandbox_may_point_anywhere(settings):
    settings.DIALER_SANDBOX = True
    settings.THREECPLUS_ALLOWED_HOSTS = []
    clean_settings({BASE_URL: "http://127.0.0.1:8765/api/v1"})


def test_a_stored_foreign_url_is_never_called(production, tenant, sandbox_server, sandbox):
    """A URL saved before the rule (or while the sandbox was on) does not receive the token afterwards."""
    tenant.settings = {BASE_URL: sandbox_server.url, **clean_settings({"threecplus_api_key": TOKEN})}
    tenant.save()
    result = tenant_api.test_connection(tenant)
    assert not result["ok"] and "3c.plus" in result["error"]
    with pytest.raises(errors.NotConfiguredError):
        tenant_api.api_for(tenant)
    assert sandbox.requests == []


class Hostile(BaseHTTPRequestHandler):
    """Whatever answers at a URL someone typed: an internal service, a metadata endpoint."""

    answers: list = []

    def do_GET(self):
        status, content_type, body = self.answers[0]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


SECRET_BODY = "SEGREDO-INTERNO-42"
ANSWERS = [
    (400, "application/json", json.dumps({"detail": SECRET_BODY, "title": SECRET_BODY})),
    (418, "application/json", json.dumps({"detail": SECRET_BODY})),
    (422, "application/json", json.dumps({"errors": {SECRET_BODY: [SECRET_BODY]}})),
    (500, "text/html", f"<h1>{SECRET_BODY}</h1>"),
    (200, "text/plain", SECRET_BODY),
    (200, "application/json", json.dumps({"data": [SECRET_BODY, {"name": SECRET_BODY}]})),
    (200, "application/json", json.dumps([{"id": SECRET_BODY, "name": "x"}])),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=[str(a[0]) for a in ANSWERS])
def test_the_connection_test_never_echoes_a_response_body(client, tenant_admin, tenant, hostile, answer):
    status, content_type, body = answer
    Hostile.answers = [(status, content_type, body.encode())]
    tenant.settings = clean_settings(
        {BASE_URL: f"http://127.0.0.1:{hostile.server_port}/api/v1", "threecplus_api_key": TOKEN}
    )
    tenant.save()
    client.force_login(tenant_admin)
    html = client.get(f"/admin/tenants/tenant/{tenant.pk}/testar-3cplus/", HTTP_HX_REQUEST="true").content.decode()
    assert SECRET_BODY not in html
    assert "Falha na conexão" in html or "Conectado: 0 campanhas" in html


CRAFTED = [
    "X/../../../qualification_lists?",
    "../qualification_lists",
    "..",
    "a?b=1",
    "a#b",
    "a%2F..%2Fb",
    "a b",
    "",
    "x" * 121,
]


@pytest.mark.parametrize("call_id", CRAFTED)
def test_a_crafted_call_id_never_reaches_3cplus(make_dialer_api, sandbox, call_id):
    agent = make_dialer_api(AGENT_TOKEN, agent_id="1003")
    with pytest.raises(errors.ValidationError):
        agent.qualify_call(call_id, 1)
    with pytest.raises(errors.ValidationError):
        agent.qualify_call(call_id, 1, manual=True)
    assert sandbox.requests == []


@pytest.mark.parametrize("call_id", ["call:alfa:1:tel1", "5f3a9c1e2b7d4a0012345678", "1700000000.12345", "c-1"])
def test_call_ids_of_3cplus_and_the_sandbox_are_accepted(make_dialer_api, sandbox, call_id):
    qualification_id = next(
        q["id"] for ql in sandbox.account("alfa").qualification_lists.values() for q in ql["qualifications"]
    )
    make_dialer_api(AGENT_TOKEN, agent_id="1003").qualify_call(call_id, qualification_id)
    assert [r["path"] for r in sandbox.requests] == [f"/agent/call/{call_id}/qualify"]


def test_path_segments_are_encoded():
    assert threecplus.path_segment("a/../b?c#d e%") == "a%2F..%2Fb%3Fc%23d%20e%25"
    assert threecplus.path_segment(42) == "42"
