"""The tenant page's sections as a person submits them: PIX in fields of its own, and every bad value reported in
one pass by its label (a value typed in the JSON editor is named by the label of its field, never its key)."""

import json
import re

import pytest

from tenants.settings_schema import clean_settings
from tests.tenants.test_settings import change_url, form_data, hours_fields

pytestmark = pytest.mark.django_db

PIX = {"pix_key": "", "pix_nome_recebedor": "", "pix_cidade_recebedor": ""}


def errors_of(html: str) -> str:
    """The page's text without its markup and without the JSON being edited (which holds the keys by design)."""
    html = re.sub(r"<script.*?</script>|<textarea.*?</textarea>|<input[^>]*>", "", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_pix_fields_save_the_key_in_its_dict_format(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    page = client.get(change_url(tenant)).content.decode()
    assert 'name="pix_key"' in page and "Cidade do recebedor" in page
    fields = {"pix_key": " 12.345.678/0001-95 ", "pix_nome_recebedor": "Agência Alfa", "pix_cidade_recebedor": "Recife"}
    response = client.post(change_url(tenant), form_data(tenant, **fields))
    assert response.status_code == 302, errors_of(response.content.decode())[-2000:]
    tenant.refresh_from_db()
    assert tenant.settings["pix_key"] == "12345678000195"
    assert 'name="pix_key" value="12345678000195"' in client.get(change_url(tenant)).content.decode()


def test_a_post_without_the_pix_fields_keeps_the_stored_receiver(client, tenant_admin, tenant):
    tenant.settings = clean_settings(
        {"pix_key": "52998224725", "pix_nome_recebedor": "Alfa", "pix_cidade_recebedor": "Recife"}
    )
    tenant.save()
    client.force_login(tenant_admin)
    response = client.post(change_url(tenant), form_data(tenant, name="Agência Alfa Ltda"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["pix_key"] == "52998224725" and tenant.name == "Agência Alfa Ltda"


def test_a_key_typed_in_the_json_editor_is_normalised_too(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    edited = {"pix_key": "Financeiro@Alfa.com.BR", "pix_nome_recebedor": "Alfa", "pix_cidade_recebedor": "Recife"}
    response = client.post(change_url(tenant), form_data(tenant, **PIX, settings=json.dumps(edited)))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["pix_key"] == "financeiro@alfa.com.br"


def test_every_bad_field_is_reported_at_once_by_its_label(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    typed_in_the_json = {
        "pix_key": "529.982.247-26",
        "pix_nome_recebedor": "Alfa",
        "pix_cidade_recebedor": "Recife",
        "dialer_max_calls_per_week": "muitas",
    }
    response = client.post(
        change_url(tenant),
        form_data(
            tenant,
            **PIX,
            **hours_fields(weekdays="08:00-13:00, 12:00-18:00"),
            dialer_max_calls_per_day="-3",  # the field's own check
            threecplus_domain="minha empresa!",
            settings=json.dumps(typed_in_the_json),
        ),
    )
    assert response.status_code == 200
    text = errors_of(response.content.decode())
    assert "Horário inválido para dias úteis" in text and "sem se sobrepor" in text
    assert "Domínio inválido" in text
    assert "Chave PIX: CPF ou CNPJ inválido como chave PIX" in text  # from the JSON: named by its label there
    assert "Máximo de ligações por cliente por semana: Máximo de ligações por semana: informe um número" in text
    assert "maior ou igual a 0" in text
    for key in ("pix_key", "dialer_calling_hours", "dialer_max_calls_per_week", "dialer_max_calls_per_day"):
        assert key not in text, key
    tenant.refresh_from_db()
    assert tenant.settings == {}
