"""What a newcomer meets on the README's demo (DEBUG on): a 404 in Portuguese, never Django's technical page, and
a favicon where the browser asks for one."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/nao-existe/", "/admin/core/client/999999/change/"])
def test_an_unknown_address_is_the_portuguese_404_with_debug_on(client, settings, tenant_admin, path):
    settings.DEBUG = True
    client.force_login(tenant_admin)
    response = client.get(path, follow=True)
    body = response.content.decode()
    assert response.status_code == 404
    assert "Página não encontrada" in body
    assert "Page not found" not in body and "URLconf" not in body


def test_an_operators_unknown_client_is_the_portuguese_404_with_debug_on(client, settings, operator):
    settings.DEBUG = True
    client.force_login(operator)
    response = client.get("/atendimento/999999/")
    assert response.status_code == 404 and "Página não encontrada" in response.content.decode()


def test_the_favicon_is_served_and_linked(client, settings):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    login_page = client.get("/entrar/").content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in login_page
    settings.DEBUG = False
    assert 'rel="icon" type="image/svg+xml" href="/favicon.ico"' in client.get("/nao-existe/").content.decode()
