"""The Carteira's search as people type it: without accents or capitals, and phones without their DDD; and the
search text kept current by every path that writes a client's name or city."""

import io

import pytest
from django.core.management import call_command

from common.parsing import strip_accents
from core.models import Client
from tests.core.test_import import GOOD, admin_import_confirmed, csv_bytes
from tests.test_admin_forms import browser_post_data

CHANGELIST = "/admin/core/client/"


def found(http, term) -> str:
    response = http.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("typed", ["jessica", "JESSICA", "Jéssica", "jéssica souza", "souza jessica"])
def test_a_name_is_found_typed_without_accents_or_capitals(client, tenant_admin, make_client, typed):
    make_client(name="Jéssica de Souza", city="Recife")
    make_client(name="Joana Prado", city="Recife")
    client.force_login(tenant_admin)
    html = found(client, typed)
    assert "Jéssica de Souza" in html
    assert "Joana Prado" not in html


@pytest.mark.parametrize("typed", ["sao paulo", "SÃO PAULO", "Sao Paulo", "jessica sao paulo"])
def test_a_city_is_found_typed_without_accents_or_capitals(client, tenant_admin, make_client, typed):
    make_client(name="Jéssica Lima", city="São Paulo")
    make_client(name="Jéssica Campos", city="Campinas")
    client.force_login(tenant_admin)
    html = found(client, typed)
    assert "Jéssica Lima" in html
    assert "Jéssica Campos" not in html


@pytest.mark.parametrize("typed", ["98765-4321", "987654321", "3333-4444", "33334444", "8765-4321"])
def test_a_phone_typed_without_its_ddd_finds_its_client(client, tenant_admin, make_client, other_tenant, typed):
    make_client(name="Dono do Telefone", phones=("+5511987654321", "+551133334444"))
    make_client(name="Outro Numero", phones=("+5521912345678",))
    make_client(tenant=other_tenant, name="Outra Empresa", phones=("+5511987654321", "+551133334444"))
    client.force_login(tenant_admin)
    html = found(client, typed)
    assert "Dono do Telefone" in html
    assert "Outro Numero" not in html
    assert "Outra Empresa" not in html


def test_a_name_changed_on_the_admin_page_is_found_by_its_new_name(client, tenant_admin, make_client):
    person = make_client(name="Joana Prado", city="Recife")
    client.force_login(tenant_admin)
    url = f"/admin/core/client/{person.pk}/change/"
    data, _unreadable = browser_post_data(client.get(url).content.decode())
    data.update(name=["Lúcia Antônia"], city=["Niterói"])
    data["_save"] = [""]
    assert client.post(url, data).status_code == 302
    assert "Lúcia Antônia" in found(client, "lucia antonia")
    assert "Lúcia Antônia" in found(client, "niteroi")
    assert "Lúcia Antônia" not in found(client, "joana")


def test_clients_imported_from_a_file_are_found_without_accents(client, tenant_admin, creditor):
    client.force_login(tenant_admin)
    admin_import_confirmed(client, csv_bytes([{**GOOD, "nome": "Gonçalo Ávila", "cidade": "Goiânia"}]))
    assert "Gonçalo Ávila" in found(client, "goncalo avila")
    assert "Gonçalo Ávila" in found(client, "goiania")
    # Imported again with another city: the search follows the file.
    admin_import_confirmed(client, csv_bytes([{**GOOD, "nome": "Gonçalo Ávila", "cidade": "Belém"}]))
    assert "Gonçalo Ávila" in found(client, "belem")
    assert "Gonçalo Ávila" not in found(client, "goiania")


def test_clients_imported_by_the_command_are_found_without_accents(client, tenant_admin, tenant, creditor, tmp_path):
    path = tmp_path / "carteira.csv"
    path.write_bytes(csv_bytes([{**GOOD, "nome": "Conceição Brandão", "cidade": "Maceió"}]))
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    client.force_login(tenant_admin)
    assert "Conceição Brandão" in found(client, "conceicao brandao maceio")


def test_seeded_and_bulk_updated_clients_are_found_without_accents(client, tenant_admin, tenant):
    from core.seeding import seed_wallet

    seed_wallet(tenant, 30, seed=7)
    client.force_login(tenant_admin)
    seeded = next(c for c in Client.objects.filter(tenant=tenant).order_by("pk") if strip_accents(c.city) != c.city)
    assert seeded.name in found(client, f"{strip_accents(seeded.name)} {strip_accents(seeded.city)}".upper())
    Client.objects.filter(pk=seeded.pk).update(city="Florianópolis", name="Zuleica Tavares")
    assert "Zuleica Tavares" in found(client, "zuleica florianopolis")
    Client.objects.filter(pk=seeded.pk).update(city="Maceió")
    assert "Zuleica Tavares" in found(client, "zuleica maceio")


def test_the_carteira_filters_and_flags_the_clients_not_to_call(client, tenant_admin, make_client):
    from core import services as core_services

    marked = make_client(name="Pediu Silêncio")
    core_services.set_do_not_call(marked, "advogado", tenant_admin)
    make_client(name="Pode Ligar")
    client.force_login(tenant_admin)
    listing = client.get(CHANGELIST).content.decode()
    assert "Não ligar: Advogado" in listing
    assert listing.count("Não ligar: ") == 1
    only_marked = client.get(CHANGELIST, {"nao_ligar": "sim"}).content.decode()
    assert "Pediu Silêncio" in only_marked and "Pode Ligar" not in only_marked
    callable_ = client.get(CHANGELIST, {"nao_ligar": "nao"}).content.decode()
    assert "Pode Ligar" in callable_ and "Pediu Silêncio" not in callable_
