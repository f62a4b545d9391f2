"""One call, three ids (the sandbox gives them as a real 3C Plus account does): the connected event's
call:{company}:{campaign}:{telephony_id}, the history's own 24-hex id, and the GET /calls report with the history's
id and the connected call's sid. Whatever path a call's qualification comes by (the operator's page, the history
webhook, the reconciliation), the call has one tabulação."""

import json
import uuid

import pytest
from django.urls import reverse

from attendance.models import CallDisposition, DispositionType
from core.models import Client
from dialer import exports, qualifications
from dialer.calls import reconcile_calls
from dialer.models import DialerCallEvent, Qualification
from dialer.same_call import same_call_ids
from dialer.webhooks import read_qualification
from sandbox.fake import QUALIFICATION_SHAPES

pytestmark = pytest.mark.django_db


def tabulate(client, debtor, disposition_type, call_id, capture):
    """The operator's tabulação on the client's page; its write-back is queued when the save commits."""
    with capture(execute=True):
        response = client.post(
            reverse("attendance:tabulate", args=[debtor.pk]),
            {"type": disposition_type.pk, "token": str(uuid.uuid4()), "notes": "", "call_id": call_id},
        )
    assert response.status_code in (200, 302)


def deliver(client, tenant, body):
    """POST the event to the tenant's webhook URL, as 3C Plus does."""
    url = reverse("threecplus_webhook", args=[tenant.webhook_secret])
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content


def dial(tenant, sandbox, debtor, *, agent_id="1003", manual=False):
    """The debtor sent to the dialer and its call connected to the agent: the call-was-connected body."""
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    export = exports.create_export(
        tenant, None, Client.objects.filter(pk=debtor.pk), campaign_id=campaign, enqueue=False
    )
    exports.run_export(export.pk)
    account = sandbox.account("alfa")
    contact = sandbox.find_contact(account, identifier=str(debtor.pk))
    return sandbox.connect_call(account, agent_id=agent_id, phone=contact["phone"], contact=contact, manual=manual)


@pytest.mark.parametrize("webhook_late", [False, True], ids=["webhook-first", "webhook-after-reconciliation"])
def test_page_webhook_and_reconciliation_make_one_tabulation_and_one_qualification(
    webhook_late, client, configured, agent, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    qualifications.sync_qualifications(configured)
    debtor = make_client(name="Uma Ligação")
    connected = dial(configured, sandbox, debtor)
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)

    # The screen pop opens the client with the connected event's id; the operator tabulates there.
    client.force_login(agent)
    page = client.get(reverse("attendance:client", args=[debtor.pk]), {"call_id": call["id"]})
    assert page.status_code == 200
    caixa_postal = DispositionType.available_to(configured).get(behavior="caixa_postal")
    tabulate(client, debtor, caixa_postal, call["id"], django_capture_on_commit_callbacks)
    run_worker()  # the write-back: the tabulação becomes the call's qualification in 3C Plus
    account = sandbox.account("alfa")
    assert [q["call_id"] for q in account.qualifications_received] == [call["id"]]

    history = sandbox.hang_up(account, call["id"])["call-history-was-created"]["callHistory"]
    assert history["_id"] != call["id"] and history["telephony_id"] == call["telephony_id"]
    assert history["qualification"]["name"] == "Caixa Postal"
    if webhook_late:  # 3C Plus retries the delivery after the reconciliation has read the call back
        assert reconcile_calls(configured) == 1
        deliver(client, configured, {"call-history-was-created": history})
    else:
        deliver(client, configured, {"call-history-was-created": history})
        assert reconcile_calls(configured) == 0, "the report is the history already delivered (same id)"
    report = next(r for r in account.calls.values())["report"]
    assert report["id"] == history["_id"] and report["sid"] == call["sid"]

    assert CallDisposition.objects.count() == 1
    disposition = CallDisposition.objects.get()
    assert (disposition.call_id, disposition.operator, disposition.type) == (call["id"], agent, caixa_postal)
    assert len(account.qualifications_received) == 1
    assert DialerCallEvent.objects.filter(event=DialerCallEvent.Event.HISTORY).count() == 1


def test_a_report_without_its_history_webhook_joins_the_page_tabulation_by_sid(
    client, configured, agent, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    qualifications.sync_qualifications(configured)
    debtor = make_client()
    connected = dial(configured, sandbox, debtor)
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)
    client.force_login(agent)
    interrompida = DispositionType.available_to(configured).get(behavior="ligacao_interrompida")
    tabulate(client, debtor, interrompida, call["id"], django_capture_on_commit_callbacks)
    run_worker()
    sandbox.hang_up(sandbox.account("alfa"), call["id"])  # the history webhook is lost

    assert reconcile_calls(configured) == 1
    stored = DialerCallEvent.objects.get(event=DialerCallEvent.Event.HISTORY)
    assert stored.call_id != call["id"] and stored.sid == call["sid"]
    assert list(CallDisposition.objects.values_list("call_id", flat=True)) == [call["id"]]


@pytest.mark.parametrize("shape", QUALIFICATION_SHAPES)
def test_the_reconciliation_reads_every_qualification_shape(shape, client, configured, agent, make_client, sandbox):
    qualifications.sync_qualifications(configured)
    sandbox.set_qualification_shape("alfa", shape)
    debtor = make_client()
    connected = dial(configured, sandbox, debtor)
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)
    account = sandbox.account("alfa")
    sandbox.qualify_in_dialer(account, call["id"], "Ligação Interrompida")
    sandbox.hang_up(account, call["id"])

    assert reconcile_calls(configured) == 1
    remote = Qualification.objects.get(tenant=configured, name="Ligação Interrompida")
    history = DialerCallEvent.objects.get(event=DialerCallEvent.Event.HISTORY)
    assert history.qualification == {"id": remote.remote_id, "name": "Ligação Interrompida"}
    disposition = CallDisposition.objects.get(client=debtor)
    assert disposition.type.behavior == "ligacao_interrompida" and disposition.operator == agent
    assert disposition.call_id == call["id"]


def test_a_qualification_named_differently_in_case_and_accents_is_found_in_the_catalogue(
    client, configured, agent, make_client, sandbox
):
    qualifications.sync_qualifications(configured)
    Qualification.objects.filter(tenant=configured, name="Ligação Interrompida").update(name="LIGACAO interrompida")
    sandbox.set_qualification_shape("alfa", "name")
    debtor = make_client()
    call = dial(configured, sandbox, debtor)["call-was-connected"]["call"]
    account = sandbox.account("alfa")
    sandbox.qualify_in_dialer(account, call["id"], "Ligação Interrompida")
    sandbox.hang_up(account, call["id"])
    debtor.assigned_operator = agent
    debtor.save()

    assert reconcile_calls(configured) == 1
    assert CallDisposition.objects.get(client=debtor).type.behavior == "ligacao_interrompida"


def test_a_qualification_in_3c_plus_for_a_client_without_operator_goes_to_the_agent_of_the_call(
    client, configured, agent, make_client, sandbox
):
    qualifications.sync_qualifications(configured)
    debtor = make_client()
    assert debtor.assigned_operator is None
    connected = dial(configured, sandbox, debtor)  # to agent 1003: the `agent` operator
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)
    account = sandbox.account("alfa")
    sandbox.qualify_in_dialer(account, call["id"], "Negociar")
    sandbox.hang_up(account, call["id"])  # the history webhook is lost

    assert reconcile_calls(configured) == 1
    disposition = CallDisposition.objects.get(client=debtor)
    assert (disposition.operator, disposition.call_id) == (agent, call["id"])
    assert disposition.type.behavior == "negociar" and disposition.qualification_status == ""


def test_the_history_webhook_records_a_qualification_made_in_3c_plus_once(
    client, configured, agent, make_client, sandbox
):
    qualifications.sync_qualifications(configured)
    debtor = make_client()
    connected = dial(configured, sandbox, debtor)
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)
    account = sandbox.account("alfa")
    sandbox.qualify_in_dialer(account, call["id"], "Negociar")
    history = sandbox.hang_up(account, call["id"])
    deliver(client, configured, history)
    deliver(client, configured, history)  # 3C Plus retries

    assert reconcile_calls(configured) == 0
    disposition = CallDisposition.objects.get(client=debtor)
    assert (disposition.operator, disposition.call_id) == (agent, call["id"])


def test_an_unqualified_history_records_no_tabulation(client, configured, agent, make_client, sandbox):
    qualifications.sync_qualifications(configured)
    debtor = make_client(assigned_operator=agent)
    connected = dial(configured, sandbox, debtor)
    deliver(client, configured, connected)
    history = sandbox.hang_up(sandbox.account("alfa"), connected["call-was-connected"]["call"]["id"])
    assert history["call-history-was-created"]["callHistory"]["qualification"]["id"] is None
    deliver(client, configured, history)
    assert reconcile_calls(configured) == 0
    assert not CallDisposition.objects.exists()


def test_a_manual_call_connected_while_ringing_is_qualified_as_a_manual_call(
    client, configured, agent, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    qualifications.sync_qualifications(configured)
    debtor = make_client()
    connected = dial(configured, sandbox, debtor, manual=True)
    call = connected["call-was-connected"]["call"]
    assert call["call_mode"] == "manual" and not call["answered_time"]
    deliver(client, configured, connected)
    client.force_login(agent)
    caixa_postal = DispositionType.available_to(configured).get(behavior="caixa_postal")
    tabulate(client, debtor, caixa_postal, call["id"], django_capture_on_commit_callbacks)
    run_worker()
    received = sandbox.account("alfa").qualifications_received
    assert [(q["mode"], q["call_id"]) for q in received] == [("manual_call", call["id"])]


def test_same_call_ids_finds_the_call_from_any_of_its_ids(client, configured, make_client, sandbox):
    debtor = make_client()
    connected = dial(configured, sandbox, debtor)
    call = connected["call-was-connected"]["call"]
    deliver(client, configured, connected)
    history = sandbox.hang_up(sandbox.account("alfa"), call["id"])["call-history-was-created"]["callHistory"]
    deliver(client, configured, {"call-history-was-created": history})

    expected = [call["id"], history["_id"]]
    assert same_call_ids(configured, call["id"]) == expected
    assert same_call_ids(configured, history["_id"]) == expected
    assert same_call_ids(configured, "", sid=call["sid"]) == [call["id"]]
    assert same_call_ids(configured, "unknown") == ["unknown"]


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (17, {"id": 17}),
        ("17", {"id": 17}),
        ({"id": 17, "name": "Negociar"}, {"id": 17, "name": "Negociar"}),
        ({"id": "17", "name": None, "behavior": None}, {"id": 17}),
        ({"id": None, "name": None}, {}),
        ("Caixa Postal", {"name": "Caixa Postal"}),
        ("-", {}),
        ("", {}),
        (None, {}),
        (True, {}),
        (-3, {}),
        ("9" * 40, {"name": "9" * 40}),
        ([17], {}),
    ],
)
def test_read_qualification_in_every_shape(value, read):
    assert read_qualification(value) == read
