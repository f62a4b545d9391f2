"""Reconciliation: GET /calls fills the calls whose webhook never arrived, and a qualification made inside
3C Plus becomes the client's tabulação."""

import json

import pytest

from attendance.models import CallDisposition
from core.models import Client
from dialer import exports, qualifications
from dialer.calls import ingest_webhook, reconcile_calls, reconcile_due_tenants
from dialer.models import CallSync, DialerCallEvent
from tenants.models import Membership


def call_without_webhooks(tenant, sandbox, debtor, qualification=None):
    """A call the dialer made and (maybe) qualified, whose webhooks were all lost."""
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    export = exports.create_export(
        tenant, None, Client.objects.filter(pk=debtor.pk), campaign_id=campaign, enqueue=False
    )
    exports.run_export(export.pk)
    account = sandbox.account("alfa")
    contact = sandbox.find_contact(account, identifier=str(debtor.pk))
    connected = sandbox.connect_call(account, agent_id="1001", phone=contact["phone"], contact=contact)
    call_id = connected["call-was-connected"]["call"]["id"]
    if qualification:
        sandbox.qualify_in_dialer(account, call_id, qualification)
    sandbox.hang_up(account, call_id, speaking_seconds=95)
    return call_id


def history_id(sandbox, call_id):
    """The id 3C Plus gives the call's history (and its GET /calls report): not the connected event's."""
    return sandbox.account("alfa").calls[call_id]["history_id"]


def test_a_lost_call_and_its_qualification_are_recovered_once(dialer_tenant, sandbox, make_client, operator):
    qualifications.sync_qualifications(dialer_tenant)  # maps "Negociar" to the tabulação of the same name
    debtor = make_client(name="Sem webhook", assigned_operator=operator)
    call_id = call_without_webhooks(dialer_tenant, sandbox, debtor, qualification="Negociar")
    assert not DialerCallEvent.objects.exists()

    assert reconcile_calls(dialer_tenant) == 1
    event = DialerCallEvent.objects.get(call_id=history_id(sandbox, call_id))
    assert event.event == DialerCallEvent.Event.HISTORY and event.client == debtor
    assert event.duration_seconds == 95 and event.qualification["name"] == "Negociar"
    assert event.sid == sandbox.account("alfa").calls[call_id]["call"]["sid"]
    disposition = CallDisposition.objects.get(client=debtor)
    assert disposition.type.behavior == "negociar" and disposition.operator == operator
    # No connected event was delivered: the report's id is the only one known.
    assert disposition.call_id == event.call_id and disposition.qualification_status == ""

    assert reconcile_calls(dialer_tenant) == 0, "idempotent by call id"
    assert DialerCallEvent.objects.count() == 1 and CallDisposition.objects.count() == 1
    sync = CallSync.objects.get(tenant=dialer_tenant)
    assert sync.watermark is not None and sync.recovered == 1 and sync.last_error == ""
    request = next(r for r in reversed(sandbox.requests) if r["path"] == "/calls")
    assert request["query"]["with_mailing"] == ["true"] and request["query"]["start_date"]


def test_the_operator_comes_from_the_agent_of_a_delivered_connection(dialer_tenant, sandbox, make_client, operator):
    qualifications.sync_qualifications(dialer_tenant)
    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    debtor = make_client()
    call_id = call_without_webhooks(dialer_tenant, sandbox, debtor, qualification="Caixa Postal")
    connected = {"call-was-connected": {"call": sandbox.account("alfa").calls[call_id]["call"]}}
    ingest_webhook(dialer_tenant, json.dumps(connected).encode())
    assert reconcile_calls(dialer_tenant) == 1
    disposition = CallDisposition.objects.get(client=debtor)
    # Joined by the sid (the report's id is the history's): the page's key, the connected event's id.
    assert disposition.operator == operator and disposition.call_id == call_id


def test_a_call_the_webhook_delivered_is_not_stored_twice(dialer_tenant, sandbox, make_client, client):
    debtor = make_client()
    account = sandbox.account("alfa")
    call_without_webhooks(dialer_tenant, sandbox, debtor)
    history = next(r for r in account.calls.values())["report"]
    DialerCallEvent.objects.create(tenant=dialer_tenant, event=DialerCallEvent.Event.HISTORY, call_id=history["id"])
    assert reconcile_calls(dialer_tenant) == 0
    assert not CallDisposition.objects.exists(), "no qualification, no tabulação"


def test_failures_are_kept_for_the_next_run(dialer_tenant, sandbox, campaign_id):
    dialer_tenant.settings = {**dialer_tenant.settings, "threecplus_campaign_id": campaign_id}
    dialer_tenant.save()
    sandbox.set_faults(fail_next=100, fail_status=401)
    assert reconcile_calls(dialer_tenant) == 0
    sync = CallSync.objects.get(tenant=dialer_tenant)
    assert "Token" in sync.last_error and sync.watermark is None


def test_periodic_queues_each_configured_tenant_once_per_interval(dialer_tenant, other_tenant, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    assert reconcile_due_tenants() == [dialer_tenant.pk], "only tenants with 3C Plus configured"
    assert reconcile_due_tenants() == [], "not due again yet"


def test_sandbox_calls_requires_what_the_swagger_requires(make_dialer_api):
    from dialer.errors import ValidationError

    api = make_dialer_api()
    with pytest.raises(ValidationError) as error:
        api._request("GET", "calls", params={"per_page": 10})
    assert "start_date" in error.value.errors and "with_mailing" in error.value.errors
