"""Every API method and error class against the sandbox 3C Plus over real HTTP."""

import datetime
import logging

import httpx
import pytest

from dialer.client import RetryPolicy
from dialer.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    ValidationError,
)
from tests.dialer.conftest import AGENT_TOKEN, TOKEN


def test_list_campaigns_and_filters(make_dialer_api):
    api = make_dialer_api()
    campaigns = api.list_campaigns()
    assert [c["name"] for c in campaigns][:2] == ["Cobrança - Carteira Geral", "Cobrança - Acordos Quebrados"]
    assert all({"id", "name", "paused"} <= set(c) for c in campaigns)
    assert [c["name"] for c in api.list_campaigns(paused=True)] == ["Cobrança - Pausada"]
    assert [c["name"] for c in api.list_campaigns(search="quebrados")] == ["Cobrança - Acordos Quebrados"]
    assert api.get_campaign(campaigns[0]["id"])["name"] == campaigns[0]["name"]


def test_pagination_follows_meta(make_dialer_api, sandbox):
    account = sandbox.account("alfa")
    for n in range(247):
        campaign = sandbox._campaign(f"Extra {n:03d}", False, 1)
        account.campaigns[campaign["id"]] = campaign
    campaigns = make_dialer_api().list_campaigns()
    assert len(campaigns) == 250
    pages = [r["query"].get("page") for r in sandbox.requests if r["path"] == "/campaigns"]
    assert pages == [["1"], ["2"], ["3"]]


def test_create_list_add_mailing_and_weight(make_dialer_api, sandbox):
    api = make_dialer_api()
    campaign_id = api.list_campaigns()[0]["id"]
    mailing_list = api.create_list(campaign_id, "Carteira 29/11/2026 10:00")
    assert mailing_list["name"] == "Carteira 29/11/2026 10:00" and mailing_list["total"] == 0
    contacts = [
        {
            "phone": "11987654321",
            "identifier": "42",
            "data": {"nome": "Ana", "url_atendimento": "http://x/atendimento/42/"},
        },
        {"phone": "1133334444", "identifier": "42", "data": {"nome": "Ana"}},
    ]
    assert api.add_mailing(campaign_id, mailing_list["id"], contacts) is None
    assert sandbox.account("alfa").contacts[mailing_list["id"]] == contacts
    assert api.update_list_weight(campaign_id, mailing_list["id"], 5)["weight"] == 5
    assert [lst["id"] for lst in api.list_lists(campaign_id)] == [mailing_list["id"]]
    mailing_request = next(r for r in sandbox.requests if r["path"].endswith("mailing.json"))
    assert mailing_request["content_type"] == "application/json"


def test_422_carries_the_errors_mapping(make_dialer_api):
    api = make_dialer_api()
    campaign_id = api.list_campaigns()[0]["id"]
    with pytest.raises(ValidationError) as error:
        api.create_list(campaign_id, "")
    assert "name" in error.value.errors
    mailing_list = api.create_list(campaign_id, "L")
    with pytest.raises(ValidationError) as error:
        api.add_mailing(campaign_id, mailing_list["id"], [{"identifier": "1"}, {"phone": "11987654321"}])
    assert list(error.value.errors) == ["0.phone"]
    assert "phone" in error.value.message


def test_bad_token_is_an_authentication_error(make_dialer_api, sandbox):
    with pytest.raises(AuthenticationError) as error:
        make_dialer_api(token="revogado-123456").list_campaigns()
    assert error.value.status == 401
    assert sandbox.calls == 1, "authentication errors are not retried"


def test_not_found(make_dialer_api):
    with pytest.raises(NotFoundError):
        make_dialer_api().get_campaign(999_999)


def test_qualifications_and_qualify_with_the_agent_credential(make_dialer_api, sandbox):
    manager = make_dialer_api()
    qualification_lists = manager.list_qualification_lists()
    qualifications = manager.list_qualifications(qualification_lists[0]["id"])
    names = [q["name"] for q in qualifications]
    assert "Caixa Postal" in names and "Negociar" in names
    agent = make_dialer_api(token=AGENT_TOKEN, agent_id="1001")
    retornar = next(q for q in qualifications if q["name"] == "Retornar")
    when = datetime.datetime(2026, 12, 1, 10, 30)
    agent.qualify_call(
        "call:1:2:abc", retornar["id"], note="Ligar de manhã", callback_at=when, callback_phone="11987654321"
    )
    agent.qualify_call("tel-99", qualifications[0]["id"], manual=True, note="manual")
    received = sandbox.account("alfa").qualifications_received
    assert [(r["call_id"], r["mode"], r["agent_id"]) for r in received] == [
        ("call:1:2:abc", "call", "1001"),
        ("tel-99", "manual_call", "1001"),
    ]
    assert received[0]["date"] == "2026-12-01 10:30:00"
    with pytest.raises(AuthenticationError) as error:
        manager.qualify_call("call:1", qualifications[0]["id"])
    assert error.value.status == 403
    with pytest.raises(AuthenticationError):
        make_dialer_api(token=AGENT_TOKEN).qualify_call("call:1", qualifications[0]["id"])  # no X-Agent-Id
    with pytest.raises(AuthenticationError):
        make_dialer_api(token=AGENT_TOKEN, agent_id="9999").qualify_call("call:1", qualifications[0]["id"])
    with pytest.raises(ValidationError):
        agent.qualify_call("call:1", 424242)


def test_5xx_is_retried_with_backoff_then_succeeds(make_dialer_api, sandbox, sleeps):
    sandbox.set_faults(fail_next=2, fail_status=500)
    assert len(make_dialer_api().list_campaigns()) == 3
    assert sandbox.calls == 3
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)


def test_attempts_are_bounded(make_dialer_api, sandbox):
    sandbox.set_faults(fail_next=100, fail_status=503)
    with pytest.raises(UnavailableError):
        make_dialer_api(retry=RetryPolicy(attempts=3, base_delay=0, max_delay=0)).list_campaigns()
    assert sandbox.calls == 3


def test_429_honours_retry_after(make_dialer_api, sandbox, sleeps):
    sandbox.set_faults(fail_next=1, fail_status=429, retry_after=2)
    make_dialer_api().list_campaigns()
    assert sleeps == [2.0]
    sandbox.set_faults(fail_next=100, fail_status=429, retry_after=1)
    with pytest.raises(RateLimitedError) as error:
        make_dialer_api().list_campaigns()
    assert error.value.retry_after == 1.0


def test_timeouts_are_retried_then_reported(make_dialer_api, sandbox):
    sandbox.set_faults(timeout_next=1, timeout_seconds=1.0)
    api = make_dialer_api(timeout=httpx.Timeout(0.3))
    assert len(api.list_campaigns()) == 3
    sandbox.set_faults(timeout_next=10, timeout_seconds=1.0)
    with pytest.raises(UnavailableError) as error:
        make_dialer_api(timeout=httpx.Timeout(0.3), retry=RetryPolicy(attempts=2, base_delay=0)).list_campaigns()
    assert "Tempo esgotado" in error.value.message


def test_unknown_domain_and_refused_connection(make_dialer_api):
    with pytest.raises(UnavailableError) as error:
        make_dialer_api(
            base_url="https://dominio-que-nao-existe-xyz.3c.plus/api/v1", retry=RetryPolicy(attempts=1)
        ).list_campaigns()
    assert "Domínio do 3C Plus não encontrado" in error.value.message
    with pytest.raises(UnavailableError) as error:
        make_dialer_api(base_url="http://127.0.0.1:9/api/v1", retry=RetryPolicy(attempts=1)).list_campaigns()
    assert "Não foi possível conectar" in error.value.message


def test_legacy_query_token_and_no_token_in_logs(make_dialer_api, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.set_faults(fail_next=1, fail_status=500)
    api = make_dialer_api(token_in_query=True)
    assert len(api.list_campaigns()) == 3
    assert "api_token" not in sandbox.requests[-1]["query"]  # the sandbox hides it from its own log too
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(api)


def test_connections_are_reused(make_dialer_api, sandbox_server):
    api = make_dialer_api()
    for _ in range(5):
        api.list_campaigns()
    assert len(sandbox_server.connections) == 1
