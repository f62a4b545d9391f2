"""Dates and selections from 3C Plus and the command line that answered 500 in the attack on issue 30."""

from io import StringIO

import pytest
from django.core.management import call_command

from common.parsing import EARLIEST_DATE, LATEST_DATE
from dialer import eligibility
from dialer.models import DialerCallEvent, DialerExport
from tenants.models import Membership


@pytest.fixture
def agent(operator):
    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    return operator


@pytest.mark.parametrize("when", ["0001-01-01 00:00:00", "9999-12-31 23:59:59"])
def test_client_pages_open_after_a_reconciled_call_dated_at_the_edge_of_time(
    dialer_tenant, sandbox, make_client, agent, tenant_admin, client, when
):
    from dialer.calls import reconcile_calls
    from tests.dialer import tampering
    from tests.dialer.test_reconciliation import call_without_webhooks

    debtor = make_client(assigned_operator=agent)
    call_without_webhooks(dialer_tenant, sandbox, debtor)
    report = next(iter(sandbox.account("alfa").calls.values()))["report"]
    report = {**report, "call_date": when, "call_date_rfc3339": when.replace(" ", "T") + "+14:00"}
    # 3C Plus answering /calls with that report, over HTTP.
    tampered, server = tampering.serve(sandbox)
    tampered.rewrite("GET", "/calls", lambda *answer: tampering.answer(200, {"data": [report]}))
    dialer_tenant.settings = {**dialer_tenant.settings, "threecplus_base_url": tampered.url}
    dialer_tenant.save()
    try:
        assert reconcile_calls(dialer_tenant) == 1
    finally:
        server.stop()
    event = DialerCallEvent.objects.get(client=debtor)
    assert EARLIEST_DATE <= event.received_at.date() <= LATEST_DATE
    client.force_login(agent)
    assert client.get(f"/atendimento/{debtor.pk}/").status_code == 200
    client.force_login(tenant_admin)
    for url in (f"/admin/core/client/{debtor.pk}/change/", "/admin/"):
        assert client.get(url).status_code == 200, url


def test_send_to_dialer_with_a_limit_when_nobody_is_inside_calling_hours(dialer_tenant, campaign_id, make_client):
    make_client()
    dialer_tenant.settings = {
        **dialer_tenant.settings,
        eligibility.HOURS_KEY: {"weekdays": "", "saturday": "", "sunday": "", "holidays": ""},
    }
    dialer_tenant.save()
    out = StringIO()
    call_command(
        "send_to_dialer", "--tenant", "alfa", "--campaign", str(campaign_id), "--limit", "5", "--preview", stdout=out
    )
    assert "0 seriam enviados" in out.getvalue()


def test_send_to_dialer_with_a_limit_sends_nothing_and_says_why_when_nobody_may_be_dialled(
    dialer_tenant, campaign_id, make_client
):
    """The same, sending: the limit's empty selection crashed the freeze with EmptyResultSet."""
    make_client()
    dialer_tenant.settings = {
        **dialer_tenant.settings,
        eligibility.HOURS_KEY: {"weekdays": "", "saturday": "", "sunday": "", "holidays": ""},
    }
    dialer_tenant.save()
    out = StringIO()
    call_command("send_to_dialer", "--tenant", "alfa", "--campaign", str(campaign_id), "--limit", "5", stdout=out)
    assert "nada foi enviado" in out.getvalue()
    assert not DialerExport.objects.exists()
