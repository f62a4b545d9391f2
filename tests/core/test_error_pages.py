"""403, 404 and 500 in Portuguese and in the product's look; a 403 is one log line, not a traceback."""

import logging

import pytest
from django.test import Client as HttpClient
from django.urls import path

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
