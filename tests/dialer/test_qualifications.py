"""Tabulação → qualificação: the catalogue sync, the mapping page and the write-back task, over HTTP to the sandbox."""

import datetime
import json

import pytest
from django.utils import timezone

from attendance import services as attendance
from attendance.models import CallDisposition, DispositionType
from dialer.errors import DialerError
from dialer.models import DialerCallEvent, Qualification, QualificationMapping
from dialer.qualifications import sync_qualifications
from dialer.types import DispositionBehavior
from tenants.settings_schema import clean_settings

Status = CallDisposition.QualificationStatus


def sandbox_qualification(sandbox, name):
    account = sandbox.account("alfa")
    return next(q for ql in account.qualification_lists.values() for q in ql["qualifications"] if q["name"] == name)


def connected_event(tenant, client, call_id="call:alfa:1:tel1", call_mode="dialer", campaign_id=""):
    return DialerCallEvent.objects.create(
        tenant=tenant,
        event=DialerCallEvent.Event.CONNECTED,
        call_id=call_id,
        call_mode=call_mode,
        agent_id="1003",
        campaign_id=campaign_id,
        client=client,
    )


def tabulate(tenant, user, client, behavior, call_id="call:alfa:1:tel1", **kwargs):
    kind = DispositionType.objects.get(tenant=None, behavior=behavior)
    disposition, _created = attendance.record_disposition(tenant, user, client, kind, call_id=call_id, **kwargs)
    return disposition


def test_sync_reads_lists_maps_by_name_and_is_idempotent(configured, sandbox):
    counts = sync_qualifications(configured)
    assert counts == {"lists": 1, "qualifications": 5, "removed": 0, "mapped": 5}
    mapping = QualificationMapping.objects.get(tenant=configured, behavior=DispositionBehavior.CALLBACK)
    assert mapping.qualification.remote_id == sandbox_qualification(sandbox, "Retornar")["id"]
    assert mapping.qualification.allow_schedule is True
    campaigns = set(sandbox.account("alfa").campaigns)
    assert set(mapping.qualification.list_campaigns) == campaigns

    # A qualification removed in 3C Plus disappears with its mapping; the rest stays as chosen.
    voicemail = sandbox_qualification(sandbox, "Caixa Postal")
    for ql in sandbox.account("alfa").qualification_lists.values():
        ql["qualifications"].remove(voicemail)
    assert sync_qualifications(configured) == {"lists": 1, "qualifications": 4, "removed": 1, "mapped": 0}
    assert not QualificationMapping.objects.filter(behavior=DispositionBehavior.VOICEMAIL).exists()
    assert QualificationMapping.objects.filter(tenant=configured).count() == 4


def test_sync_failure_is_a_message(tenant, sandbox_server):
    tenant.settings = clean_settings(
        {"threecplus_base_url": sandbox_server.url, "threecplus_api_key": "revogado-123456"}
    )
    tenant.save()
    with pytest.raises(DialerError) as error:
        sync_qualifications(tenant)
    assert "token" in error.value.message.lower() or "autoriz" in error.value.message.lower()
    assert not Qualification.objects.exists()


def test_tabulation_is_written_back_by_the_worker(
    configured, agent, make_client, sandbox, django_capture_on_commit_callbacks, run_worker
):
    client = make_client()
    connected_event(configured, client)
    with django_capture_on_commit_callbacks(execute=True):
        disposition = tabulate(configured, agent, client, DispositionBehavior.VOICEMAIL, notes="Caixa postal cheia")
    assert disposition.qualification_status == Status.PENDING  # saved at once; 3C Plus not called yet
    assert sandbox.account("alfa").qualifications_received == []

    run_worker()

    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.SENT, disposition.qualification_error
    assert disposition.qualification_attempts == 1
    [received] = sandbox.account("alfa").qualifications_received
    assert received["call_id"] == "call:alfa:1:tel1"
    assert received["mode"] == "call"
    assert received["agent_id"] == "1003"
    assert received["qualification_id"] == sandbox_qualification(sandbox, "Caixa Postal")["id"]
    assert received["note"] == "Caixa postal cheia"


def test_callback_sends_the_date_and_manual_calls_use_their_route(
    configured, agent, make_client, sandbox, django_capture_on_commit_callbacks, run_worker
):
    client = make_client(phones=("+5511987654321",))
    connected_event(configured, client, call_id="manual-1", call_mode="manual")
    connected_event(configured, client, call_id="dialer-2")
    callback_at = timezone.now() + datetime.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        tabulate(configured, agent, client, DispositionBehavior.INTERRUPTED, call_id="manual-1")
        tabulate(configured, agent, client, DispositionBehavior.CALLBACK, call_id="dialer-2", callback_at=callback_at)
    run_worker()
    manual, callback = sandbox.account("alfa").qualifications_received
    assert manual["mode"] == "manual_call"
    assert callback["mode"] == "call"
    assert callback["date"] == timezone.localtime(callback_at).strftime("%Y-%m-%d %H:%M:%S")
    request = next(r for r in sandbox.requests if r["path"] == "/agent/call/dialer-2/qualify")
    assert request["body"]["phone"] == "11987654321"


def test_failure_shows_on_the_disposition_and_the_admin_retries_it(
    client, configured, agent, supervisor, make_client, sandbox, django_capture_on_commit_callbacks, run_worker
):
    wallet_client = make_client()
    connected_event(configured, wallet_client)
    sandbox.set_faults(fail_next=10, fail_status=503)  # outlasts the client's own retries
    with django_capture_on_commit_callbacks(execute=True):
        disposition = tabulate(configured, agent, wallet_client, DispositionBehavior.NEGOTIATE)
    run_worker()
    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.FAILED
    assert "3C Plus" in disposition.qualification_error
    assert sandbox.account("alfa").qualifications_received == []

    client.force_login(supervisor)
    changelist = client.get("/admin/attendance/calldisposition/?qualification_status=falhou")
    assert disposition.qualification_error in changelist.content.decode()

    sandbox.set_faults(fail_next=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/attendance/calldisposition/",
            {"action": "retry_qualification", "_selected_action": [disposition.pk]},
            follow=True,
        )
    assert "1 qualificação(ões) de volta à fila" in response.content.decode()
    run_worker()
    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.SENT
    assert disposition.qualification_error == ""
    assert disposition.qualification_attempts == 2
    assert len(sandbox.account("alfa").qualifications_received) == 1


def test_missing_agent_id_and_missing_mapping_are_explained(
    configured, operator, agent, make_client, sandbox, django_capture_on_commit_callbacks, run_worker
):
    wallet_client = make_client()
    sync_qualifications(configured)
    QualificationMapping.objects.filter(behavior=DispositionBehavior.NEGOTIATE).delete()
    with django_capture_on_commit_callbacks(execute=True):
        unmapped = tabulate(configured, agent, wallet_client, DispositionBehavior.NEGOTIATE, call_id="c-1")
    run_worker()
    agent.membership.threecplus_agent_id = ""
    agent.membership.save()
    with django_capture_on_commit_callbacks(execute=True):
        no_agent = tabulate(configured, agent, wallet_client, DispositionBehavior.VOICEMAIL, call_id="c-2")
    run_worker()
    unmapped.refresh_from_db()
    no_agent.refresh_from_db()
    assert unmapped.qualification_status == no_agent.qualification_status == Status.FAILED
    assert "Negociar" in unmapped.qualification_error and "Qualificações" in unmapped.qualification_error
    assert "ID de agente" in no_agent.qualification_error


def test_no_write_back_without_call_id_or_agent_token(tenant, agent, make_client, django_capture_on_commit_callbacks):
    wallet_client = make_client()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        without_call = tabulate(tenant, agent, wallet_client, DispositionBehavior.VOICEMAIL, call_id="")
        without_token = tabulate(tenant, agent, wallet_client, DispositionBehavior.VOICEMAIL, call_id="c-9")
    assert without_call.qualification_status == without_token.qualification_status == Status.NOT_APPLICABLE
    assert callbacks == []


def test_mapping_page_syncs_and_saves(client, configured, tenant_admin, supervisor, sandbox):
    client.force_login(supervisor)
    assert client.get("/admin/dialer/qualification/").status_code == 403

    client.force_login(tenant_admin)
    page = client.get("/admin/dialer/qualification/")
    assert "Ainda não sincronizado" in page.content.decode()
    response = client.post("/admin/dialer/qualification/sincronizar/", follow=True)
    body = response.content.decode()
    assert "Sincronizado: 5 qualificação(ões) em 1 lista(s); 5 tabulação(ões) mapeada(s)" in body
    assert 'data-testid="writes-on"' in body

    list_id = Qualification.objects.first().list_id
    negotiate = Qualification.objects.get(name="Negociar")
    form = {f"map-{list_id}-{b.value}": "" for b in DispositionBehavior}
    form[f"map-{list_id}-{DispositionBehavior.OTHER}"] = str(negotiate.pk)
    response = client.post("/admin/dialer/qualification/", form, follow=True)
    assert "Mapeamento salvo" in response.content.decode()
    assert list(QualificationMapping.objects.values_list("behavior", "qualification")) == [
        (DispositionBehavior.OTHER.value, negotiate.pk)
    ]


def test_mapping_page_refuses_another_tenants_qualification(client, configured, other_tenant, tenant_admin):
    sync_qualifications(configured)
    foreign = Qualification.objects.create(
        tenant=other_tenant, remote_id=999, name="Alheia", list_id=1, list_name="X", synced_at=timezone.now()
    )
    list_id = Qualification.objects.filter(tenant=configured).first().list_id
    client.force_login(tenant_admin)
    response = client.post(
        "/admin/dialer/qualification/", {f"map-{list_id}-{DispositionBehavior.OTHER}": str(foreign.pk)}, follow=True
    )
    assert "Escolha uma qualificação da própria lista" in response.content.decode()
    assert not QualificationMapping.objects.filter(qualification=foreign).exists()


def test_call_history_is_on_the_timeline(client, tenant, operator, make_client):
    wallet_client = make_client()
    body = {
        "callHistory": {
            "_id": "h-1",
            "telephony_id": "t-1",
            "number": "5511987654321",
            "status": 7,
            "qualification": {"id": 5, "name": "Negociar"},
            "mailing_data": {"identifier": str(wallet_client.pk), "data": {}},
            "agent": {"id": 1003, "name": "Maria"},
            "campaign": {"id": 1, "name": "Carteira"},
            "speaking_time": "00:02:05",
            "recording": "https://gravacoes.3c.plus/t-1.mp3",
        }
    }
    response = client.post(
        f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    event = DialerCallEvent.objects.get(call_id="h-1")
    assert (event.duration_seconds, event.recording_url) == (125, "https://gravacoes.3c.plus/t-1.mp3")
    client.force_login(operator)
    page = client.get(f"/atendimento/{wallet_client.pk}/").content.decode()
    assert "Ligação do discador" in page
    assert "atendida · duração 2:05 · qualificação Negociar · (11) 98765-4321" in page
    # Played through our endpoint (tests/dialer/test_call_recordings.py): 3C Plus's own link needs the token.
    assert f'<audio controls preload="none" src="/atendimento/{wallet_client.pk}/gravacoes/{event.pk}/"' in page
    assert "· Maria" in page


def test_a_delivered_history_finds_its_qualification_in_its_own_tenants_catalogue(tenant, other_tenant):
    """dialer.qualifications.find_event_qualification (the webhook's follow-up, one query): by id, else by name
    without accents or case, only in the catalogue of the tenant holding the event; nothing when it lacks both."""
    from dialer.qualifications import find_event_qualification

    def qualification(owner, remote_id, name):
        return Qualification.objects.create(
            tenant=owner, remote_id=remote_id, name=name, list_id=1, list_name="Lista", synced_at=timezone.now()
        )

    foreign = qualification(other_tenant, 5, "Negociar")
    qualification(other_tenant, 6, "Caixa postal")
    mine = qualification(tenant, 7, "Negociação")
    event = DialerCallEvent.objects.create(tenant=tenant, event=DialerCallEvent.Event.HISTORY, call_id="h-9")
    assert find_event_qualification(event.pk, {"id": 7, "name": "Outra"}) == mine
    assert find_event_qualification(event.pk, {"id": 99, "name": " NEGOCIACAO "}) == mine
    assert find_event_qualification(event.pk, {"id": 5, "name": "Negociar"}) is None  # the other tenant's
    assert find_event_qualification(event.pk, {"name": "caixa postal"}) is None
    assert find_event_qualification(event.pk, {}) is None
    assert find_event_qualification(event.pk + 1000, {"id": 7}) is None  # no such event
    foreign_event = DialerCallEvent.objects.create(
        tenant=other_tenant, event=DialerCallEvent.Event.HISTORY, call_id="h-9"
    )
    assert find_event_qualification(foreign_event.pk, {"id": 5}) == foreign
