"""The PIX webhook refuses what is not the PSP's (token, mTLS) and bounds what is; the provider's settings keep their
secrets encrypted and "Testar conexão" talks to the sandbox PSP."""

import json
import logging
from decimal import Decimal

import pytest

from payments import provider
from payments.client import PixAPI
from payments.errors import AuthenticationError, RefusedError, UnavailableError
from payments.models import ReceivedPayment
from payments.settings_schema import ProviderConfig
from tenants import secrets
from tenants.settings_schema import masked
from tests.payments.conftest import configure_provider

D = Decimal
GOOD = {
    "endToEndId": "E12345678202612011200abcdefghijk",
    "txid": "",
    "valor": "10.00",
    "horario": "2026-12-01T12:00:00Z",
}


@pytest.fixture
def webhook(tenant, psp_server):
    configure_provider(tenant, psp_server.url)
    return "/pagamentos/webhook/" + provider.webhook_token(tenant) + "/pix"


def post(client, url, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


def test_a_wrong_token_is_refused_before_the_body_is_read(client, tenant, webhook, other_tenant):
    tenant_id, digest = webhook.split("/")[3].split(".")
    forged = f"/pagamentos/webhook/{tenant_id}.{'0' * len(digest)}/pix"
    assert post(client, forged, {"pix": [GOOD]}).status_code == 404
    # The other tenant has no provider: its own correct token opens nothing either.
    assert (
        post(client, f"/pagamentos/webhook/{provider.webhook_token(other_tenant)}/pix", {"pix": [GOOD]}).status_code
        == 404
    )
    assert post(client, "/pagamentos/webhook/abc/pix", {"pix": [GOOD]}).status_code == 404
    assert not ReceivedPayment.objects.exists()
    assert post(client, webhook, {"pix": [GOOD]}).status_code == 200
    assert ReceivedPayment.objects.get().external_id == GOOD["endToEndId"]


def test_rotating_the_salt_rotates_the_url(client, tenant, webhook, psp_server):
    configure_provider(tenant, psp_server.url, payments_webhook_salt="outro")
    assert post(client, webhook, {"pix": [GOOD]}).status_code == 404


def test_with_mtls_required_only_a_verified_certificate_passes(client, tenant, psp_server, settings):
    configure_provider(tenant, psp_server.url, payments_webhook_mtls="true")
    url = "/pagamentos/webhook/" + provider.webhook_token(tenant) + "/pix"
    assert post(client, url, {"pix": [GOOD]}).status_code == 403
    assert post(client, url, {"pix": [GOOD]}, HTTP_X_SSL_CLIENT_VERIFY="FAILED:self signed").status_code == 403
    assert not ReceivedPayment.objects.exists()
    assert post(client, url, {"pix": [GOOD]}, HTTP_X_SSL_CLIENT_VERIFY="SUCCESS").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nao e json", 400),
        (b"\xff\xfe", 400),
        ({"pix": "x"}, 400),
        ([GOOD], 400),
        ({"pix": [GOOD] * 1001}, 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b" " * (256 * 1024 + 1), 413),
    ],
)
def test_hostile_bodies_are_bounded(client, webhook, body, status):
    assert post(client, webhook, body).status_code == status
    assert not ReceivedPayment.objects.exists()


@pytest.mark.parametrize(
    "item",
    [
        {**GOOD, "endToEndId": "E1\x00"},
        {**GOOD, "endToEndId": "E" * 36},
        {**GOOD, "endToEndId": 12},
        {**GOOD, "valor": "1e9"},
        {**GOOD, "valor": "-5.00"},
        {**GOOD, "valor": "0.00"},
        {**GOOD, "valor": 10.0},
        {**GOOD, "horario": "0001-01-01T00:00:00Z"},
        {**GOOD, "horario": "ontem"},
        {**GOOD, "txid": "ação" * 3},
        {**GOOD, "txid": ["x"]},
        "string",
    ],
)
def test_bad_items_are_counted_and_skipped_the_rest_stored(client, webhook, item):
    response = post(client, webhook, {"pix": [item, GOOD]})
    assert response.status_code == 200
    assert response.json() == {"recebidos": 2, "novos": 1, "recusados": 1}
    assert list(ReceivedPayment.objects.values_list("external_id", flat=True)) == [GOOD["endToEndId"]]


def test_a_devolucao_is_stored_for_the_reversal_not_posted(client, webhook):
    refunded = {**GOOD, "devolucoes": [{"id": "D1", "rtrId": "D1x", "valor": "10.00", "status": "DEVOLVIDO"}]}
    assert post(client, webhook, {"pix": [refunded]}).status_code == 200
    refund = ReceivedPayment.objects.get(external_id="DEV:D1")
    assert refund.status == ReceivedPayment.Status.REFUND and refund.txid == GOOD["endToEndId"]


# Settings -------------------------------------------------------------------------------------------------------

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def form_data(tenant, **overrides):
    data = {
        "name": tenant.name,
        "threecplus_domain": "",
        "threecplus_api_key": "",
        "threecplus_campaign_id": "",
        "threecplus_base_url": "",
        "threecplus_agent_token": "",
        "settings": json.dumps(masked(tenant.settings)),
        "payments_provider": "",
        "payments_base_url": "",
        "payments_client_id": "",
        "payments_client_secret": "",
        "payments_certificate": "",
        "payments_private_key": "",
        "payments_boleto": "",
        "payments_boleto_base_url": "",
        "payments_webhook_mtls": "",
    }
    data.update(overrides)
    return data


def test_the_admin_saves_the_credentials_encrypted_and_tests_the_connection(
    client, tenant_admin, tenant, psp_server, psp, caplog
):
    caplog.set_level(logging.DEBUG)
    client.force_login(tenant_admin)
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    response = client.post(
        url,
        form_data(
            tenant,
            pix_key="financeiro@alfa.com.br",
            pix_nome_recebedor="Agencia Alfa",
            pix_cidade_recebedor="Sao Paulo",
            payments_provider="api_pix",
            payments_base_url=psp_server.url,
            payments_client_id="sandbox-alfa",
            payments_client_secret="segredo-alfa",
            payments_certificate=CERT,
            payments_boleto="true",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    tenant.refresh_from_db()
    for key, plain in (("payments_client_secret", "segredo-alfa"), ("payments_certificate", CERT)):
        assert secrets.decrypt(tenant.settings[key]) == plain
    assert tenant.settings["payments_boleto"] is True
    page = client.get(url).content.decode()
    assert "segredo-alfa" not in page and "MIIB" not in page
    assert "Testar conexão e registrar webhook" in page
    assert "segredo-alfa" not in caplog.text

    # Saved again with the secret fields empty: kept. A certificate that is not PEM: refused by name.
    response = client.post(url, form_data(tenant, payments_provider="api_pix", payments_certificate="nao-e-pem"))
    assert response.status_code == 200
    assert "Cole o conteúdo PEM" in response.content.decode()

    # The fake certificate cannot be loaded: the test says so instead of crashing.
    result = client.get(f"/admin/tenants/tenant/{tenant.pk}/testar-pagamentos/", HTTP_HX_REQUEST="true")
    assert "payments-connection-error" in result.content.decode()
    stored = tenant.stored_settings
    del stored["payments_certificate"]
    tenant.settings = stored
    tenant.save()
    result = client.get(f"/admin/tenants/tenant/{tenant.pk}/testar-pagamentos/", HTTP_HX_REQUEST="true")
    html = result.content.decode()
    assert "payments-connection-ok" in html and "Webhook registrado" in html
    assert psp.account("alfa").webhooks["financeiro@alfa.com.br"] == provider.webhook_url(tenant)


def test_wrong_credentials_are_an_authentication_error(tenant, psp_server):
    configure_provider(tenant, psp_server.url, payments_client_secret="errado-123")
    result = provider.test_connection(tenant)
    assert not result["ok"] and "recusou as credenciais" in result["checks"][0][1]


def config(url, **kwargs):
    base = dict(
        provider="api_pix",
        base_url=url,
        client_id="sandbox-alfa",
        client_secret="segredo-alfa",
        certificate="",
        private_key="",
        pix_key="financeiro@alfa.com.br",
        boleto_base_url=url,
    )
    return ProviderConfig(**{**base, **kwargs})


def test_a_put_with_our_txid_is_retried_after_a_5xx_and_leaves_one_charge(psp_server, psp, monkeypatch):
    """PUT /cobv/{txid} is idempotent: the same txid names the same charge, so the retry is safe."""
    original, failures = psp.handle, []

    def flaky(method, path, *args):
        if method == "PUT" and "/cobv/" in path and not failures:
            failures.append(path)
            original(method, path, *args)  # applied, then the answer is lost as a 503
            return 503, {}, b""
        return original(method, path, *args)

    monkeypatch.setattr(psp, "handle", flaky)
    import datetime

    with PixAPI(config(psp_server.url), sleep=lambda s: None) as api:
        answer = api.put_cobv(
            "a" * 30,
            amount=D("10.00"),
            due_date=datetime.date(2026, 12, 20),
            debtor={"cpf": "12345678909", "nome": "X"},
        )
    assert failures and answer["status"] == "ATIVA"
    assert list(psp.account("alfa").charges) == ["a" * 30]


def test_refusals_and_outages_are_typed(psp_server):
    import datetime

    with PixAPI(config(psp_server.url), sleep=lambda s: None) as api:
        with pytest.raises(RefusedError) as refused:
            api.put_cobv(
                "curto", amount=D("1.00"), due_date=datetime.date(2026, 1, 1), debtor={"cpf": "1", "nome": "X"}
            )
        assert refused.value.status == 400
    with (
        PixAPI(config(psp_server.url, client_secret="x"), sleep=lambda s: None) as api,
        pytest.raises(AuthenticationError),
    ):
        api.token()
    with PixAPI(config("http://127.0.0.1:9"), attempts=2, sleep=lambda s: None) as api, pytest.raises(UnavailableError):
        api.token()
