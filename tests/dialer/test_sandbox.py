import json

import pytest

from sandbox.fake import Sandbox
from sandbox.views import SANDBOX, tenants_of
from tenants.models import Role
from tenants.settings_schema import clean_settings
from tests.conftest import make_user


def call(sandbox, method, path, token="sandbox-x", body=b"", content_type="application/json", **headers):
    hdrs = {"authorization": f"Bearer {token}", "content-type": content_type, **headers}
    status, _headers, payload = sandbox.handle(method, path, {}, hdrs, body)
    return status, json.loads(payload) if payload else None


def test_envelope_pagination_and_duplicates():
    sandbox = Sandbox()
    status, body = call(sandbox, "GET", "/campaigns")
    assert status == 200 and {"status", "title", "detail", "transaction_id", "data", "meta"} <= set(body)
    assert body["meta"]["pagination"]["links"] == []
    campaign = body["data"][0]["id"]
    status, body = call(
        sandbox,
        "POST",
        f"/campaigns/{campaign}/lists",
        body=b"name=L1",
        content_type="application/x-www-form-urlencoded",
    )
    list_id = body["data"]["id"]
    items = json.dumps([{"phone": "11987654321", "identifier": "1"}]).encode()
    assert call(sandbox, "POST", f"/campaigns/{campaign}/lists/{list_id}/mailing.json", body=items)[0] == 204
    assert call(sandbox, "POST", f"/campaigns/{campaign}/lists/{list_id}/mailing.json", body=items)[0] == 204
    account = sandbox.account("x")
    assert account.counts[list_id] == 2 and account.duplicates[list_id] == 1
    status, body = call(sandbox, "POST", f"/campaigns/{campaign}/lists", body=b"{}")
    assert status == 422 and body["errors"] == {"name": ["O campo name é obrigatório."]}


def test_accounts_are_separate_per_token():
    sandbox = Sandbox()
    call(sandbox, "GET", "/campaigns", token="sandbox-a")
    call(sandbox, "GET", "/campaigns", token="sandbox-b")
    a, b = sandbox.account("a"), sandbox.account("b")
    assert not set(a.campaigns) & set(b.campaigns)


def test_count_only_mode_keeps_counts_not_contacts():
    sandbox = Sandbox(store_contacts=False)
    campaign = call(sandbox, "GET", "/campaigns")[1]["data"][0]["id"]
    list_id = call(sandbox, "POST", f"/campaigns/{campaign}/lists", body=b'{"name": "L"}')[1]["data"]["id"]
    call(
        sandbox,
        "POST",
        f"/campaigns/{campaign}/lists/{list_id}/mailing.json",
        body=json.dumps([{"phone": "11987654321"}] * 3).encode(),
    )
    assert sandbox.account("x").counts[list_id] == 3 and sandbox.account("x").contacts[list_id] == []


@pytest.fixture
def demo_sandbox():
    SANDBOX.reset()
    yield SANDBOX
    SANDBOX.reset()


def test_mounted_api_and_page_are_scoped_to_the_tenants_token(client, tenant_admin, tenant, other_tenant, demo_sandbox):
    tenant.settings = clean_settings(
        {"threecplus_base_url": "http://testserver/sandbox/3cplus/api/v1", "threecplus_api_key": "sandbox-alfa"}
    )
    tenant.save()
    response = client.get("/sandbox/3cplus/api/v1/campaigns", HTTP_AUTHORIZATION="Bearer sandbox-alfa")
    assert response.status_code == 200 and len(response.json()["data"]) == 3
    client.get("/sandbox/3cplus/api/v1/campaigns", HTTP_AUTHORIZATION="Bearer sandbox-beta")
    assert client.get("/sandbox/3cplus/api/v1/campaigns").status_code == 401
    client.force_login(tenant_admin)
    html = client.get("/sandbox/3cplus/").content.decode()
    assert "Empresa no sandbox: alfa" in html and "beta" not in html


def test_operators_do_not_see_the_sandbox_page(client, operator):
    client.force_login(operator)
    assert client.get("/sandbox/3cplus/").status_code == 403


def test_a_tenant_cannot_open_another_tenants_sandbox_company(
    client, tenant, other_tenant, tenant_admin, demo_sandbox, make_client
):
    """Alfa's admin types beta's sandbox token: the page shows nothing of beta, and no call reaches beta's webhook."""
    beta_admin = make_user(other_tenant, Role.ADMIN)
    for owner, token in ((other_tenant, "sandbox-beta"), (tenant, "sandbox-beta")):
        owner.settings = clean_settings(
            {"threecplus_base_url": "http://testserver/sandbox/3cplus/api/v1", "threecplus_api_key": token}
        )
        owner.save()
    campaign_id = next(iter(demo_sandbox.account("beta").campaigns))
    status, _body = call(
        demo_sandbox,
        "POST",
        f"campaigns/{campaign_id}/lists",
        token="sandbox-beta",
        body=b"name=Lista secreta da beta",
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200
    client.force_login(tenant_admin)
    html = client.get("/sandbox/3cplus/").content.decode()
    assert "Lista secreta da beta" not in html and "Empresa no sandbox: beta" not in html
    response = client.post(
        "/sandbox/3cplus/simular-ligacao/", {"account": "beta", "agent_id": "1001", "phone": "11987654321"}
    )
    assert response.status_code == 403
    assert [t.slug for t in tenants_of("beta")] == ["beta"]
    client.force_login(beta_admin)
    assert "Lista secreta da beta" in client.get("/sandbox/3cplus/").content.decode()


def test_the_in_app_sandbox_keeps_its_lists_and_contacts_across_a_restart(db, demo_sandbox):
    from sandbox.fake import Sandbox
    from sandbox.views import DatabaseStore

    campaign_id = next(iter(demo_sandbox.account("demo").campaigns))
    _status, created = call(
        demo_sandbox,
        "POST",
        f"campaigns/{campaign_id}/lists",
        token="sandbox-demo",
        body=b"name=Lista antes do restart",
        content_type="application/x-www-form-urlencoded",
    )
    list_id = created["data"]["id"]
    contacts = [{"phone": "11987654321", "identifier": "7", "data": {"nome": "Ana"}}]
    path = f"campaigns/{campaign_id}/lists/{list_id}/mailing.json"
    assert call(demo_sandbox, "POST", path, token="sandbox-demo", body=json.dumps(contacts).encode())[0] == 204

    restarted = Sandbox(store=DatabaseStore())  # a new process: nothing in memory
    account = restarted.account("demo")
    assert account.lists[list_id]["name"] == "Lista antes do restart"
    assert account.contacts[list_id] == contacts and account.counts[list_id] == 1
    assert restarted.find_contact(account, identifier="7")["campaign_id"] == campaign_id
    # The same contact again is still seen as a repeat, and new ids never reuse the stored ones.
    assert call(restarted, "POST", path, token="sandbox-demo", body=json.dumps(contacts).encode())[0] == 204
    assert restarted.account("demo").duplicates[list_id] == 1
    _status, other = call(
        restarted,
        "POST",
        f"campaigns/{campaign_id}/lists",
        token="sandbox-demo",
        body=b"name=Depois",
        content_type="application/x-www-form-urlencoded",
    )
    assert other["data"]["id"] > list_id


def test_demo_points_the_tenant_at_the_current_sandbox_on_every_run(db, settings, demo_sandbox):
    from config.management.commands.demo import Command
    from tenants.models import Tenant

    tenant = Tenant.objects.create(name="Demo", slug="demo")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    Command().point_at_sandbox(tenant)
    first = dict(tenant.settings)
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8123"  # demo --port 8123, the second time
    Command().point_at_sandbox(Tenant.objects.get(pk=tenant.pk))
    tenant.refresh_from_db()
    assert tenant.settings["threecplus_base_url"] == "http://127.0.0.1:8123/sandbox/3cplus/api/v1"
    assert tenant.settings["threecplus_campaign_id"] == first["threecplus_campaign_id"]
    # A real 3C Plus configured by someone is left alone.
    tenant.settings = clean_settings({"threecplus_domain": "minhaempresa", "threecplus_api_key": "token-real"})
    tenant.save()
    Command().point_at_sandbox(tenant)
    tenant.refresh_from_db()
    assert "threecplus_base_url" not in tenant.settings or "sandbox" not in tenant.settings["threecplus_base_url"]
