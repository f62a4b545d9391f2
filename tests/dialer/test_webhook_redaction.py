"""Entregas do webhook never shows a credential: by key name, by the tenant's own secrets wherever they are, and
inside strings and bodies that are not JSON."""

import json

import pytest

from dialer import webhooks
from dialer.models import WebhookDelivery
from tenants import secrets

LEAK = "vaz4-Mento-9f8e7d"  # what a credential holds in each body below
API_TOKEN = "tok-api-3cplus-5a4b3c2d1e"
AGENT_TOKEN = "tok-agente-3cplus-0f1e2d3c"

KEYED = [  # a JSON key that names a credential, in any case, anywhere in the key
    {"pwd": LEAK},
    {"PWD": LEAK},
    {"cookie": f"sessionid={LEAK}"},
    {"Set-Cookie": LEAK},
    {"credentials": {"user": "ana", "pass": LEAK}},
    {"access_key": LEAK},
    {"AWS_ACCESS_KEY_ID": LEAK},
    {"x-api-key": LEAK},
    {"ApiKey": LEAK},
    {"Authorization": LEAK},
    {"client_secret": LEAK},
    {"PassWord": LEAK},
    {"senha_do_agente": LEAK},
    {"private_key": LEAK},
    {"dados": [{"refresh_token": [LEAK]}]},
]
IN_STRINGS = [  # a credential inside a string value
    {"headers": f"Authorization: Bearer {LEAK}"},
    {"headers": f"authorization: basic {LEAK}"},
    {"url": f"https://x.example/cb?password={LEAK}&a=1"},
    {"log": f"login ok token={LEAK}"},
    {"form": f"user=ana&pwd={LEAK}"},
    {"texto": f"a senha: {LEAK} foi trocada"},
    {"texto": f'"api_key": "{LEAK}"'},
]
NOT_JSON = [  # bodies that are not JSON at all
    f"Authorization: Bearer {LEAK}\nContent-Type: text/plain",
    f"password={LEAK}&user=ana",
    f"user=ana&token={LEAK}",
    f"access_key={LEAK}",
    f"Cookie: sessionid={LEAK}; csrftoken=abc",
    f'{{"pwd": "{LEAK}", ',
    f'{{"credentials": {{"pass": "{LEAK}"}}, ',
    f"texto livre com senha: {LEAK} e mais",
]


@pytest.fixture
def configured(tenant):
    tenant.settings = {
        "threecplus_api_key": secrets.encrypt(API_TOKEN),
        "threecplus_agent_token": secrets.encrypt(AGENT_TOKEN),
    }
    tenant.save()
    return tenant


def delivered(client, tenant, raw: str) -> WebhookDelivery:
    url = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
    assert client.post(url, raw, content_type="application/json").status_code < 500
    return WebhookDelivery.objects.get(tenant=tenant)


def page_of(client, delivery) -> str:
    response = client.get(f"/admin/dialer/webhookdelivery/{delivery.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("body", [json.dumps(b) for b in KEYED + IN_STRINGS] + NOT_JSON)
def test_a_credential_is_hidden_in_every_shape(client, configured, tenant_admin, body):
    delivery = delivered(client, configured, body)
    assert LEAK not in delivery.body  # stored hidden
    client.force_login(tenant_admin)
    page = page_of(client, delivery)
    assert LEAK not in page and "[oculto]" in page


@pytest.mark.parametrize(
    "make_body",
    [
        lambda t: {t.webhook_secret: 1},  # the secret as a key
        lambda t: {"a": {t.webhook_secret.upper(): 1}},
        lambda t: {"origem": f"https://app.example/dialer/webhooks/3cplus/{t.webhook_secret}/"},
        lambda t: {"nota": f"usar {API_TOKEN} amanhã"},
        lambda t: {API_TOKEN: "x"},
        lambda t: {"agente": [AGENT_TOKEN]},
        lambda t: f"texto {t.webhook_secret} {API_TOKEN} {AGENT_TOKEN}",
    ],
)
def test_the_tenants_own_secrets_are_hidden_wherever_they_are(client, configured, tenant_admin, make_body):
    body = make_body(configured)
    delivery = delivered(client, configured, body if isinstance(body, str) else json.dumps(body))
    client.force_login(tenant_admin)
    page = page_of(client, delivery)
    for secret in (configured.webhook_secret, API_TOKEN, AGENT_TOKEN):
        assert secret not in page and secret.upper() not in page
    assert configured.webhook_secret not in delivery.body


def test_a_delivery_stored_before_the_redaction_is_shown_hidden(client, configured, tenant_admin):
    """Rows written by an older version (or cut at the size limit, so no longer JSON) are redacted on display."""
    client.force_login(tenant_admin)
    for body in (
        json.dumps({"pwd": LEAK, "x": API_TOKEN, configured.webhook_secret: AGENT_TOKEN}),
        json.dumps({"pwd": LEAK, "x": API_TOKEN})[:-5],
        "[" * 5000 + json.dumps({"pwd": LEAK}),  # deeper than the JSON reader goes
    ):
        delivery = WebhookDelivery.objects.create(tenant=configured, result="invalido", body=body)
        page = page_of(client, delivery)
        for secret in (LEAK, API_TOKEN, AGENT_TOKEN, configured.webhook_secret):
            assert secret not in page


def test_what_is_no_credential_is_shown_as_sent(client, configured, tenant_admin):
    body = {"call": {"id": "call:1:2:abc", "agent": "1001"}, "mailing": {"data": {"nome": "Ana", "author": "x"}}}
    delivery = delivered(client, configured, json.dumps(body))
    client.force_login(tenant_admin)
    page = page_of(client, delivery)
    assert "call:1:2:abc" in page and "author" in page and "[oculto]" not in page


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("name=token=s3cret", "name=token=[oculto]"),
        ("my_api-token = s3cret&x=1", "my_api-token = [oculto]&x=1"),
        ("a-b:c xtokeny: 1", "a-b:c xtokeny: [oculto]"),
        ("Cookie: a=1; b=2\nok", "Cookie: [oculto]\nok"),
    ],
)
def test_text_redaction_hides_each_value_named_as_a_credential(text, redacted):
    assert webhooks.redact_text(text) == redacted


def test_a_long_word_full_of_credential_names_is_redacted_in_one_pass():
    # Tried at every letter, the name pattern backtracked cubically: 2,000 characters of "xtoken" held the
    # worker 6 s, a 512 KiB body for hours. Read from each word's start, this returns at once.
    word = "xtoken" * 40_000
    assert webhooks.redact_text(f"{word} token=abc") == f"{word} token=[oculto]"
    assert webhooks.redact_text(f"{word}=abc") == f"{word}=[oculto]"
