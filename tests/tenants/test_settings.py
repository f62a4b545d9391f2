import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError

from dialer.settings_schema import api_root, threecplus_config
from tenants import secrets
from tenants.settings_schema import clean_settings, masked
from tests.dialer.conftest import TOKEN

PLAIN = "3cs_supersecreto_a1b2"


def test_encryption_round_trip_and_rotation(settings):
    stored = secrets.encrypt(PLAIN)
    assert stored.startswith("fernet:") and PLAIN not in stored
    assert secrets.decrypt(stored) == PLAIN
    old_key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old_key}"
    assert secrets.decrypt(stored) == PLAIN, "old tokens still read after a new key is put in front"
    rotated = secrets.rotate(stored)
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY.split(",")[0]
    assert secrets.decrypt(rotated) == PLAIN
    with pytest.raises(secrets.SecretError):
        secrets.decrypt(stored)


def test_mask_shows_only_the_last_four():
    assert secrets.mask(secrets.encrypt(PLAIN)) == "••••a1b2"


def test_clean_settings_encrypts_and_keeps():
    first = clean_settings({"threecplus_domain": "MinhaEmpresa", "threecplus_api_key": PLAIN, "outra": 1})
    assert first["threecplus_domain"] == "minhaempresa" and first["outra"] == 1
    assert secrets.decrypt(first["threecplus_api_key"]) == PLAIN
    for kept in ("", None, "••••a1b2"):
        again = clean_settings({**first, "threecplus_api_key": kept}, stored=first)
        assert again["threecplus_api_key"] == first["threecplus_api_key"]
    assert api_root(first) == "https://minhaempresa.3c.plus/api/v1"
    assert api_root({"threecplus_domain": "https://x.3c.plus"}) == "https://x.3c.plus/api/v1"
    assert api_root({**first, "threecplus_base_url": "http://127.0.0.1:9/api/v1"}) == "http://127.0.0.1:9/api/v1"
    assert threecplus_config(first).token == PLAIN
    assert PLAIN not in repr(threecplus_config(first))
    assert masked(first)["threecplus_api_key"] == "••••a1b2"


@pytest.mark.parametrize(
    ("settings", "field", "fragment"),
    [
        ({"threecplus_domain": "minha empresa!"}, "threecplus_domain", "Domínio inválido"),
        ({"threecplus_campaign_id": "abc"}, "threecplus_campaign_id", "número (ID) da campanha"),
        ({"threecplus_base_url": "ftp://x"}, "threecplus_base_url", "URL completa"),
        ({"threecplus_api_key": "curto"}, "threecplus_api_key", "Token inválido"),
        ({"threecplus_api_key": "fernet:forjado"}, "threecplus_api_key", "não pode ser editado"),
        (
            {"dialer_calling_hours": {"weekdays": "8h às 20h"}},
            "dialer_calling_hours",
            "para dias úteis: “8h às 20h”",
        ),
        ({"dialer_calling_hours": {"saturday": "14:00-08:00"}}, "dialer_calling_hours", "início antes do fim"),
        ({"dialer_calling_hours": {"sunday": "25:00-26:00"}}, "dialer_calling_hours", "para domingo"),
        ({"dialer_calling_hours": {"sunday": 8}}, "dialer_calling_hours", "para domingo"),
        ({"dialer_calling_hours": {"weekdays": "08:00-13:00, 12:00-18:00"}}, "dialer_calling_hours", "sobrepor"),
        ({"dialer_calling_hours": {"domingo": ""}}, "dialer_calling_hours", "Dia desconhecido"),
        ({"dialer_calling_hours": "08:00-20:00"}, "dialer_calling_hours", "Use um objeto"),
        ({"dialer_max_calls_per_day": -1}, "dialer_max_calls_per_day", "por dia: não pode"),
        ({"dialer_max_calls_per_week": "três"}, "dialer_max_calls_per_week", "por semana: informe um número"),
    ],
)
def test_clean_settings_messages_per_field(settings, field, fragment):
    with pytest.raises(ValidationError) as error:
        clean_settings(settings)
    assert fragment in " ".join(error.value.message_dict[field])


def test_calling_rules_the_eligibility_can_read_are_kept():
    rules = {
        "dialer_calling_hours": {"weekdays": "08:00-20:00", "saturday": "", "sunday": "09:00-24:00", "holidays": ""},
        "dialer_max_calls_per_day": 0,
        "dialer_max_calls_per_week": 5,
    }
    assert {key: clean_settings(rules)[key] for key in rules} == rules
    # The JSON editor's text fields send numbers as text: a whole number typed there is kept as a number.
    assert clean_settings({"dialer_max_calls_per_week": " 10 "})["dialer_max_calls_per_week"] == 10


def test_admin_refuses_calling_hours_the_eligibility_cannot_read(client, tenant_admin, tenant):
    import json

    client.force_login(tenant_admin)
    bad = {"dialer_calling_hours": {"weekdays": "20:00-08:00"}}
    response = client.post(change_url(tenant), form_data(tenant, settings=json.dumps(bad)))
    assert response.status_code == 200
    assert "Horário inválido para dias úteis" in response.content.decode()
    tenant.refresh_from_db()
    assert "dialer_calling_hours" not in tenant.settings


def test_settings_must_be_an_object():
    with pytest.raises(ValidationError):
        clean_settings(["não", "é", "objeto"])


def change_url(tenant):
    return f"/admin/tenants/tenant/{tenant.pk}/change/"


def form_data(tenant, **overrides):
    import json

    data = {
        "name": tenant.name,
        "threecplus_domain": "",
        "threecplus_api_key": "",
        "threecplus_campaign_id": "",
        "threecplus_base_url": "",
        "threecplus_agent_token": "",
        "settings": json.dumps(masked(tenant.settings)),
    }
    data.update(overrides)
    return data


def test_admin_saves_the_token_encrypted_and_never_renders_it(client, tenant_admin, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(tenant_admin)
    response = client.post(
        change_url(tenant), form_data(tenant, threecplus_domain="minhaempresa", threecplus_api_key=PLAIN)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant.refresh_from_db()
    stored = tenant.settings["threecplus_api_key"]
    assert secrets.decrypt(stored) == PLAIN
    html = client.get(change_url(tenant)).content.decode()
    assert PLAIN not in html and stored not in html
    assert "••••a1b2" in html
    # Saving again with the token field empty and the JSON masked keeps the token.
    response = client.post(
        change_url(tenant), form_data(tenant, threecplus_domain="minhaempresa", threecplus_campaign_id="7")
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_api_key"] == stored and tenant.settings["threecplus_campaign_id"] == 7
    assert PLAIN not in caplog.text and stored not in caplog.text


def test_admin_reports_field_errors_in_portuguese(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    response = client.post(change_url(tenant), form_data(tenant, threecplus_campaign_id="campanha"))
    assert response.status_code == 200
    assert "número (ID) da campanha" in response.content.decode()
    response = client.post(change_url(tenant), form_data(tenant, settings="[1, 2]"))
    assert "objeto JSON" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.settings == {}


def test_json_editing_changes_keys_and_keeps_the_masked_token(client, tenant_admin, tenant):
    import json

    tenant.settings = clean_settings({"threecplus_domain": "antiga", "threecplus_api_key": PLAIN})
    tenant.save()
    client.force_login(tenant_admin)
    edited = {**masked(tenant.settings), "threecplus_domain": "nova", "limite_diario": 500}
    response = client.post(
        change_url(tenant), form_data(tenant, threecplus_domain="antiga", settings=json.dumps(edited))
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_domain"] == "nova" and tenant.settings["limite_diario"] == 500
    assert secrets.decrypt(tenant.settings["threecplus_api_key"]) == PLAIN


def configure(tenant, base_url, token=TOKEN):
    tenant.settings = clean_settings({"threecplus_base_url": base_url, "threecplus_api_key": token})
    tenant.save()


def test_connection_shows_the_campaigns(client, tenant_admin, tenant, sandbox_server):
    configure(tenant, sandbox_server.url)
    client.force_login(tenant_admin)
    html = client.get(f"/admin/tenants/tenant/{tenant.pk}/testar-3cplus/", HTTP_HX_REQUEST="true").content.decode()
    assert "Conectado: 3 campanhas encontradas" in html and "Cobrança - Carteira Geral" in html


def test_connection_explains_failures(client, tenant_admin, tenant, sandbox_server):
    client.force_login(tenant_admin)
    url = f"/admin/tenants/tenant/{tenant.pk}/testar-3cplus/"
    assert "ainda não tem o 3C Plus configurado" in client.get(url).content.decode()
    configure(tenant, sandbox_server.url, token="token-errado-123")
    assert "Token do 3C Plus inválido" in client.get(url).content.decode()
    tenant.settings = clean_settings({"threecplus_domain": "empresa-que-nao-existe-xyz", "threecplus_api_key": PLAIN})
    tenant.save()
    assert "Domínio do 3C Plus não encontrado" in client.get(url).content.decode()


def test_only_the_tenants_admin_tests_its_connection(client, tenant_admin, supervisor, other_tenant):
    client.force_login(tenant_admin)
    assert client.get(f"/admin/tenants/tenant/{other_tenant.pk}/testar-3cplus/").status_code == 404
    assert client.get(change_url(other_tenant)).status_code == 404
    client.force_login(supervisor)
    assert client.get(f"/admin/tenants/tenant/{supervisor.membership.tenant.pk}/testar-3cplus/").status_code in (
        403,
        404,
    )


@pytest.mark.django_db
def test_rotate_encryption_key_command_re_encrypts_every_token(settings, tenant, other_tenant):
    from django.core.management import call_command

    tenant.settings = clean_settings({"threecplus_api_key": PLAIN, "threecplus_agent_token": "sandbox-agent-x1"})
    tenant.save()
    old_key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old_key}"  # step 1: new key in front
    call_command("rotate_encryption_key", stdout=io.StringIO())  # step 2
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY.split(",")[0]  # step 3: old key removed
    tenant.refresh_from_db()
    assert secrets.decrypt(tenant.settings["threecplus_api_key"]) == PLAIN
    assert secrets.decrypt(tenant.settings["threecplus_agent_token"]) == "sandbox-agent-x1"


def test_whichever_the_admin_changed_is_saved_and_a_disagreement_saves_nothing(client, tenant_admin, tenant):
    import json

    tenant.settings = clean_settings({"threecplus_domain": "alfa", "threecplus_campaign_id": 5})
    tenant.save()
    client.force_login(tenant_admin)
    # As the browser posts the page: the fields carry the stored values, the JSON the editor's.
    shown = {"threecplus_domain": "alfa", "threecplus_campaign_id": "5"}
    edited_json = json.dumps({**tenant.settings, "threecplus_campaign_id": 7})
    response = client.post(change_url(tenant), form_data(tenant, **shown, settings=edited_json))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == 7

    shown = {"threecplus_domain": "alfa", "threecplus_campaign_id": "9"}
    response = client.post(change_url(tenant), form_data(tenant, **shown))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == 9

    disagreeing = json.dumps({**tenant.settings, "threecplus_domain": "beta"})
    shown = {"threecplus_domain": "gama", "threecplus_campaign_id": "9"}
    response = client.post(change_url(tenant), form_data(tenant, **shown, settings=disagreeing))
    assert response.status_code == 200
    assert "alterado no campo e no JSON com valores diferentes" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_domain"] == "alfa"


@pytest.mark.parametrize(
    "text",
    [
        '{"limite": NaN}',
        '{"limite": Infinity}',
        '{"limite": -Infinity}',
        '{"nome": "a\\u0000b"}',
        '{"a\\u0000": 1}',
        '{"x": ' + "[" * 40 + "]" * 40 + "}",
        '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"n": 1e400}',
    ],
)
def test_hostile_json_is_a_clear_error_and_nothing_is_saved(client, tenant_admin, tenant, text):
    tenant.settings = clean_settings({"threecplus_domain": "alfa"})
    tenant.save()
    client.force_login(tenant_admin)
    response = client.post(change_url(tenant), form_data(tenant, threecplus_domain="alfa", settings=text))
    assert response.status_code == 200
    assert "JSON" in response.content.decode() and "errorlist" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.settings == {"threecplus_domain": "alfa"}


def test_default_campaign_is_picked_from_the_3cplus_list_and_a_paused_one_warns(
    client, tenant_admin, tenant, sandbox_server
):
    configure(tenant, sandbox_server.url)
    listed = list(sandbox_server.sandbox.account("alfa").campaigns.values())
    paused = next(c for c in listed if c["paused"])
    running = next(c for c in listed if not c["paused"])
    client.force_login(tenant_admin)
    html = client.get(change_url(tenant)).content.decode()
    assert '<select name="threecplus_campaign_id"' in html
    assert f"{paused['name']} (ID {paused['id']}) — pausada" in html
    assert f"{running['name']} (ID {running['id']})<" in html
    shown = {"threecplus_base_url": sandbox_server.url}

    response = client.post(
        change_url(tenant), form_data(tenant, **shown, threecplus_campaign_id=str(paused["id"])), follow=True
    )
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == paused["id"]
    assert f"A campanha padrão “{paused['name']}” está pausada no 3C Plus" in response.content.decode()

    response = client.post(
        change_url(tenant), form_data(tenant, **shown, threecplus_campaign_id=str(running["id"])), follow=True
    )
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == running["id"]
    assert "está pausada" not in response.content.decode()

    unknown = max(c["id"] for c in listed) + 1000
    response = client.post(change_url(tenant), form_data(tenant, **shown, threecplus_campaign_id=str(unknown)))
    assert response.status_code == 200 and "Faça uma escolha válida" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == running["id"]


def test_default_campaign_is_typed_when_3cplus_cannot_list_them(client, tenant_admin, tenant, sandbox_server):
    client.force_login(tenant_admin)
    html = client.get(change_url(tenant)).content.decode()
    assert '<input type="text" name="threecplus_campaign_id"' in html
    assert "Salve o token e o domínio para escolher" in html
    configure(tenant, sandbox_server.url, token="token-errado-123")
    html = client.get(change_url(tenant)).content.decode()
    assert '<input type="text" name="threecplus_campaign_id"' in html
    assert "Não foi possível listar as campanhas do 3C Plus (Token do 3C Plus inválido" in html
    response = client.post(
        change_url(tenant),
        form_data(tenant, threecplus_base_url=sandbox_server.url, threecplus_campaign_id="12"),
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_campaign_id"] == 12


def hours_fields(weekdays="08:00-20:00", saturday="08:00-14:00", sunday="", holidays=""):
    return {
        "dialer_calling_hours_0": weekdays,
        "dialer_calling_hours_1": saturday,
        "dialer_calling_hours_2": sunday,
        "dialer_calling_hours_3": holidays,
    }


@pytest.mark.real_calling_hours
def test_calling_rules_have_fields_of_their_own(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    page = client.get(change_url(tenant)).content.decode()
    assert "Regras de discagem" in page and 'data-testid="calling-hours"' in page
    assert 'name="dialer_calling_hours_0" value="08:00-20:00"' in page  # the defaults the eligibility applies
    fields = {**hours_fields(sunday="09:00-13:00"), "dialer_max_calls_per_day": "3", "dialer_max_calls_per_week": ""}
    response = client.post(change_url(tenant), form_data(tenant, **fields))
    assert response.status_code == 302, response.content.decode()[-3000:]
    tenant.refresh_from_db()
    assert tenant.settings["dialer_calling_hours"] == {
        "weekdays": "08:00-20:00",
        "saturday": "08:00-14:00",
        "sunday": "09:00-13:00",
        "holidays": "",
    }
    assert tenant.settings["dialer_max_calls_per_day"] == 3
    # A limit cleared is no limit.
    response = client.post(change_url(tenant), form_data(tenant, **hours_fields(sunday="09:00-13:00")))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings.get("dialer_max_calls_per_day") is None
    assert tenant.settings["dialer_calling_hours"]["sunday"] == "09:00-13:00"


def test_a_calling_hours_field_the_eligibility_cannot_read_is_refused_beside_it(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    response = client.post(change_url(tenant), form_data(tenant, **hours_fields(saturday="14h às 18h")))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Horário inválido para sábado" in html
    tenant.refresh_from_db()
    assert "dialer_calling_hours" not in tenant.settings
    response = client.post(change_url(tenant), form_data(tenant, **hours_fields(), dialer_max_calls_per_week="-2"))
    assert response.status_code == 200
    tenant.refresh_from_db()
    assert "dialer_max_calls_per_week" not in tenant.settings
