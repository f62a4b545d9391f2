"""403, 404 and 500 in Portuguese and in the product's look; a 403 is one log line, not a traceback."""

import logging

import pytest
from django.test import Client as HttpClient
from django.urls import path

from config.urls import handler500  # noqa: F401 (the handler this urlconf serves, as the project's does)
from config.urls import urlpatterns as project_urls


def boom(request):
    raise RuntimeError("falha de teste")


urlpatterns = [*project_urls, path("falha-de-teste/", boom)]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__


def test_404_403_and_500_pages_in_portuguese(client, operator, production):
    client.force_login(operator)
    response = client.get("/nao-existe/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Página não encontrada" in html and "Cobrança" in html and 'lang="pt-br"' in html
    response = client.get("/sandbox/3cplus/")  # back office only
    assert response.status_code == 403
    assert "Acesso negado" in response.content.decode() and "Cobrança" in response.content.decode()
    server = HttpClient(raise_request_exception=False)
    response = server.get("/falha-de-teste/")
    assert response.status_code == 500
    assert "Algo deu errado do nosso lado" in response.content.decode()


def test_a_403_is_one_log_line(client, supervisor, caplog, production):
    client.force_login(supervisor)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/admin/tenants/auditevent/")
    assert response.status_code == 403
    assert "Acesso negado" in response.content.decode()
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1 and records[0].exc_info is None
    assert "Traceback" not in caplog.text


def test_the_database_away_is_a_503_to_retry_not_a_500(operator, production, monkeypatch):
    """A restart or failover of PostgreSQL: the console's poll (and any page) answers 503 with Retry-After, which
    the console retries, instead of a 500."""
    from django.db import OperationalError

    from dialer import selectors as dialer_selectors
    from tenants.models import Membership

    def away(*args, **kwargs):
        raise OperationalError("connection refused")

    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    monkeypatch.setattr(dialer_selectors, "next_connected_call", away)
    server = HttpClient(raise_request_exception=False)
    server.force_login(operator)
    response = server.get("/atendimento/proxima-ligacao/", {"depois": "1"})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "O sistema está voltando" in response.content.decode()
