"""The admin's own strings (django-unfold ships no translations) read in Portuguese."""

import pytest

pytestmark = pytest.mark.django_db


def test_login_and_admin_chrome_are_in_portuguese(client, supervisor):
    login = client.get("/entrar/").content.decode()
    assert "Bem-vindo de volta ao" in login and "Welcome back to" not in login
    client.force_login(supervisor)
    page = client.get("/admin/core/client/").content.decode()
    assert "Buscar aplicativos e cadastros..." in page and "Search apps and models" not in page
    assert "Aplicar filtros" in page
