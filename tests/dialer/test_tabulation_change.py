"""One tabulação per call: a second is refused; changing the first sends no second qualification to 3C Plus."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from attendance import services as attendance
from attendance.models import CallDisposition, DispositionType
from dialer.types import DispositionBehavior
from tenants.models import AuditEvent
from tests.dialer.test_qualifications import connected_event, tabulate

Status = CallDisposition.QualificationStatus


def test_a_changed_tabulation_is_not_sent_again(
    configured, agent, make_client, sandbox, django_capture_on_commit_callbacks, run_worker
):
    client = make_client()
    connected_event(configured, client)
    with django_capture_on_commit_callbacks(execute=True):
        first = tabulate(configured, agent, client, DispositionBehavior.VOICEMAIL, notes="Caixa postal")
    run_worker()
    first.refresh_from_db()
    assert first.qualification_status == Status.SENT, first.qualification_error

    with pytest.raises(ValidationError, match="Esta ligação já foi tabulada"):
        tabulate(configured, agent, client, DispositionBehavior.INTERRUPTED)
    assert attendance.call_disposition(configured, client, "call:alfa:1:tel1") == first

    callback = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.CALLBACK)
    at = timezone.now() + datetime.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        attendance.change_disposition(configured, agent, first, callback, notes="Ligar amanhã", callback_at=at)
    run_worker()

    first.refresh_from_db()
    assert (first.type, first.notes, first.changed_from) == (callback, "Ligar amanhã", "Caixa Postal")
    assert first.qualification_status == Status.SENT
    assert len(sandbox.account("alfa").qualifications_received) == 1  # 3C Plus keeps the call's first one
    assert CallDisposition.objects.filter(client=client).count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.DISPOSITION_CHANGED)
    assert event.changes["tabulação"] == ["Caixa Postal", "Retornar"]


def test_a_number_marked_wrong_is_recorded_even_on_a_tabulated_call(
    configured, agent, make_client, django_capture_on_commit_callbacks
):
    client = make_client(phones=("+5511987654321", "+5511933334444"))
    with django_capture_on_commit_callbacks(execute=True):
        tabulate(configured, agent, client, DispositionBehavior.VOICEMAIL)
        wrong = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.WRONG_CONTACT)
        phone = client.phones.get(number="+5511933334444")
        attendance.record_disposition(
            configured, agent, client, wrong, phone=phone, call_id="call:alfa:1:tel1", one_per_call=False
        )
    assert CallDisposition.objects.filter(client=client, call_id="call:alfa:1:tel1").count() == 2
