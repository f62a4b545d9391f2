"""What a qualification does here: "número errado", "não ligar" and "retornar" made inside 3C Plus (read back by the
reconciliation from GET /calls on the sandbox) turn the phone or the client off and out of the lists, or schedule
the callback; the tenant's admin chooses each qualification's action on the qualifications page."""

import datetime
import json

import pytest
from django.utils import timezone

from attendance import services as attendance
from attendance.models import CallDisposition, DispositionType
from core.models import Client, ClientPhone, DoNotCallReason
from dialer import exports, qualifications
from dialer.calls import ingest_webhook, reconcile_calls
from dialer.models import DialerRemoval, Qualification, QualificationMapping, QualifiedAction
from dialer.types import DispositionBehavior
from tenants.models import AuditEvent


@pytest.fixture
def catalogue(dialer_tenant, sandbox):
    """The sandbox company's qualification list, with the two qualifications a collection agency adds."""
    account = sandbox.account("alfa")
    qualification_list = next(iter(account.qualification_lists.values()))
    qualification_list["qualifications"] += [
        sandbox._qualification("NÚMERO ERRADO", 1, "#000000", False),
        sandbox._qualification("Não Ligar", 2, "#000000", False),
    ]
    qualifications.sync_qualifications(dialer_tenant)
    return account


def sent_to_dialer(tenant, sandbox, debtor):
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    export = exports.create_export(
        tenant, None, Client.objects.filter(pk=debtor.pk), campaign_id=campaign, enqueue=False
    )
    exports.run_export(export.pk)
    return campaign


def qualified_inside_3cplus(sandbox, account, debtor, phone, qualification, *, tenant=None):
    """The dialer calls `phone`, the agent qualifies the call inside 3C Plus, and every webhook is lost (but the
    connected one, given the tenant: the screen pop that gave the operator's page its call id)."""
    contact = sandbox.find_contact(account, phone=phone)
    assert contact["identifier"] == str(debtor.pk)
    connected = sandbox.connect_call(account, agent_id="1001", phone=phone, contact=contact)
    if tenant is not None:
        ingest_webhook(tenant, json.dumps(connected).encode())
    call_id = connected["call-was-connected"]["call"]["id"]
    sandbox.qualify_in_dialer(account, call_id, qualification)
    sandbox.hang_up(account, call_id, speaking_seconds=30)
    return call_id


def in_lists(account, debtor) -> set:
    return {c["phone"] for contacts in account.contacts.values() for c in contacts if c["identifier"] == str(debtor.pk)}


def test_wrong_number_in_3cplus_turns_that_phone_off_and_out_of_the_lists(
    dialer_tenant, catalogue, sandbox, make_client, operator, run_worker, django_capture_on_commit_callbacks
):
    debtor = make_client(phones=("+5511987654321", "+5511933334444"), assigned_operator=operator)
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    assert in_lists(catalogue, debtor) == {"11987654321", "11933334444"}
    qualified_inside_3cplus(sandbox, catalogue, debtor, "11933334444", "NÚMERO ERRADO")

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_calls(dialer_tenant) == 1
    run_worker()

    wrong = ClientPhone.objects.get(number="+5511933334444")
    assert (wrong.active, wrong.do_not_call_reason) == (False, DoNotCallReason.WRONG_NUMBER)
    assert ClientPhone.objects.get(number="+5511987654321").active
    assert in_lists(catalogue, debtor) == {"11987654321"}
    assert DialerRemoval.objects.get(client=debtor).status == DialerRemoval.Status.DONE
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == ""


def test_do_not_call_in_3cplus_marks_the_client_and_takes_it_out_of_the_lists(
    dialer_tenant, catalogue, sandbox, make_client, run_worker, django_capture_on_commit_callbacks
):
    debtor = make_client(phones=("+5511987654321", "+5511933334444"))
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    qualified_inside_3cplus(sandbox, catalogue, debtor, "11987654321", "Não Ligar")

    with django_capture_on_commit_callbacks(execute=True):
        reconcile_calls(dialer_tenant)
    run_worker()

    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == DoNotCallReason.DEBTOR_REQUEST and debtor.do_not_call_at is not None
    assert in_lists(catalogue, debtor) == set()
    assert AuditEvent.objects.filter(action="nao_ligar", object_id=str(debtor.pk)).count() == 1
    assert reconcile_calls(dialer_tenant) == 0, "the same call read again does nothing more"
    assert DialerRemoval.objects.filter(client=debtor).count() == 1


def test_callback_in_3cplus_schedules_the_operators_callback(dialer_tenant, catalogue, sandbox, make_client, operator):
    debtor = make_client(assigned_operator=operator)
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    call_id = qualified_inside_3cplus(sandbox, catalogue, debtor, "11987654321", "Retornar")
    before = timezone.now()

    reconcile_calls(dialer_tenant)

    disposition = CallDisposition.objects.get(client=debtor)
    # Every webhook was lost: the report's id (the call's history id) is the only id of the call known here.
    history_id = catalogue.calls[call_id]["history_id"]
    assert disposition.type.behavior == DispositionBehavior.CALLBACK and disposition.call_id == history_id
    assert disposition.operator == operator and not disposition.callback_done
    assert before + datetime.timedelta(hours=23) < disposition.callback_at < timezone.now() + datetime.timedelta(days=1)
    assert list(attendance.pending_callbacks(dialer_tenant, operator)) == [disposition]
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == "" and ClientPhone.objects.get(client=debtor).active


def test_a_callback_without_mapping_is_still_scheduled(dialer_tenant, catalogue, sandbox, make_client, operator):
    QualificationMapping.objects.filter(tenant=dialer_tenant).delete()
    debtor = make_client(assigned_operator=operator)
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    qualified_inside_3cplus(sandbox, catalogue, debtor, "11987654321", "Retornar")
    reconcile_calls(dialer_tenant)
    disposition = CallDisposition.objects.get(client=debtor)
    assert disposition.type.behavior == DispositionBehavior.CALLBACK and disposition.callback_at is not None


def test_the_operators_tabulation_on_our_page_is_not_applied_twice(
    dialer_tenant, catalogue, sandbox, make_client, operator, run_worker, django_capture_on_commit_callbacks
):
    """The operator tabulates "Contato incorreto" on our page (phone off, out of the lists); the call's
    qualification read back from 3C Plus ("Contato Incorreto", a número errado) marks nothing again."""
    debtor = make_client(phones=("+5511987654321",), assigned_operator=operator)
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    call_id = qualified_inside_3cplus(
        sandbox, catalogue, debtor, "11987654321", "Contato Incorreto", tenant=dialer_tenant
    )
    wrong_type = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.WRONG_CONTACT)
    with django_capture_on_commit_callbacks(execute=True):
        attendance.record_disposition(
            dialer_tenant, operator, debtor, wrong_type, phone=debtor.phones.get(), call_id=call_id
        )
    audits = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        reconcile_calls(dialer_tenant)
    run_worker()

    assert ClientPhone.objects.get(client=debtor).do_not_call_reason == DoNotCallReason.WRONG_NUMBER
    assert AuditEvent.objects.count() == audits, "no second não ligar of the phone"
    assert DialerRemoval.objects.filter(client=debtor).count() == 1
    assert CallDisposition.objects.filter(client=debtor).count() == 1


def test_default_actions_come_from_the_mapping_then_the_name(dialer_tenant, catalogue):
    actions = {q.name: action for q, action in ((q, qualifications.action_of(q)) for q in Qualification.objects.all())}
    assert actions == {
        "Caixa Postal": QualifiedAction.NOTHING,
        "Ligação Interrompida": QualifiedAction.NOTHING,
        "Contato Incorreto": QualifiedAction.WRONG_NUMBER,  # mapped from "Contato incorreto"
        "Retornar": QualifiedAction.CALLBACK,
        "Negociar": QualifiedAction.NOTHING,
        "NÚMERO ERRADO": QualifiedAction.WRONG_NUMBER,  # by its name, accents and case ignored
        "Não Ligar": QualifiedAction.DO_NOT_CALL,
    }
    assert qualifications.actions_for(dialer_tenant) == {
        q.pk: actions[q.name] for q in Qualification.objects.filter(tenant=dialer_tenant)
    }


def test_the_admin_chooses_the_actions_on_the_qualifications_page(
    client, dialer_tenant, catalogue, tenant_admin, supervisor, sandbox, make_client
):
    negotiate = Qualification.objects.get(name="Negociar")
    client.force_login(tenant_admin)
    page = client.get("/admin/dialer/qualification/").content.decode()
    assert f'name="action-{negotiate.pk}"' in page and "Salvar ações" in page
    form = {f"action-{q.pk}": qualifications.action_of(q) for q in Qualification.objects.all()}
    form[f"action-{negotiate.pk}"] = QualifiedAction.DO_NOT_CALL

    response = client.post("/admin/dialer/qualification/acoes/", form, follow=True)

    assert "Ações das qualificações salvas" in response.content.decode()
    negotiate.refresh_from_db()
    assert negotiate.action == QualifiedAction.DO_NOT_CALL
    assert '<option value="nao_ligar" selected>' in response.content.decode()
    audit = AuditEvent.objects.get(action="qualificacoes")
    assert "Negociar" in str(audit.changes) and audit.user == tenant_admin

    # A negotiation qualified inside 3C Plus now turns the client off.
    debtor = make_client()
    sent_to_dialer(dialer_tenant, sandbox, debtor)
    qualified_inside_3cplus(sandbox, catalogue, debtor, "11987654321", "Negociar")
    reconcile_calls(dialer_tenant)
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == DoNotCallReason.DEBTOR_REQUEST

    # Only the admin chooses; an unknown action changes nothing.
    client.force_login(supervisor)
    assert client.post("/admin/dialer/qualification/acoes/", form).status_code == 403
    client.force_login(tenant_admin)
    response = client.post("/admin/dialer/qualification/acoes/", {**form, f"action-{negotiate.pk}": "x"}, follow=True)
    assert "Escolha uma das ações" in response.content.decode()
    negotiate.refresh_from_db()
    assert negotiate.action == QualifiedAction.DO_NOT_CALL
