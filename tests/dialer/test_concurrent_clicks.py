"""Concurrent clicks write once: real concurrent requests and workers on PostgreSQL."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse

from attendance import services as attendance
from attendance.models import CallDisposition, DispositionType
from core.models import ClientPhone
from dialer.models import DialerCallEvent
from dialer.types import DispositionBehavior

pytestmark = pytest.mark.django_db(transaction=True)
Status = CallDisposition.QualificationStatus
CALL = "call:alfa:1:tel-concorrente"


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has a single writer)")


@pytest.fixture(autouse=True)
def default_disposition_types():
    """Earlier transactional tests flush the tables, migration data included; put the tabulações back."""
    from attendance.defaults import ensure_default_disposition_types

    ensure_default_disposition_types(DispositionType)


def all_at_once(count, work):
    """Run work(i) in `count` threads released together; each thread has its own DB connection."""
    barrier = threading.Barrier(count)
    errors = []

    def run(i):
        try:
            barrier.wait()
            work(i)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def qualifications_of(sandbox, call_id):
    return [q for q in sandbox.account("alfa").qualifications_received if q["call_id"] == call_id]


def test_eight_concurrent_wrong_number_clicks_mark_the_phone_once(configured, agent, make_client, sandbox, run_worker):
    client = make_client(phones=("+5511987654321", "+5511933334444"))
    DialerCallEvent.objects.create(
        tenant=configured, event=DialerCallEvent.Event.CONNECTED, call_id=CALL, agent_id="1003", client=client
    )
    phone = client.phones.get(number="+5511987654321")
    browsers = []
    for _ in range(8):
        browser = HttpClient()
        browser.force_login(agent)
        browsers.append(browser)
    url = reverse("attendance:phone_wrong", args=[client.pk, phone.pk])
    statuses = []
    all_at_once(8, lambda i: statuses.append(browsers[i].post(url, {"call_id": CALL}).status_code))
    assert len(statuses) == 8 and all(s in (200, 302) for s in statuses)
    dispositions = CallDisposition.objects.filter(client=client)
    assert dispositions.count() == 1, "one phone marked wrong once"
    assert dispositions.get().qualification_status == Status.PENDING
    phone.refresh_from_db()
    assert not phone.active and phone.deactivation_reason == ClientPhone.DeactivationReason.WRONG_CONTACT
    assert client.phones.filter(active=True).count() == 1

    run_worker()
    assert len(qualifications_of(sandbox, CALL)) == 1


def test_one_qualification_per_call_even_with_several_tabulations(configured, agent, make_client, sandbox, run_worker):
    client = make_client()
    kinds = [
        DispositionType.objects.get(tenant=None, behavior=behavior)
        for behavior in (DispositionBehavior.VOICEMAIL, DispositionBehavior.INTERRUPTED, DispositionBehavior.NEGOTIATE)
    ]
    refused = []

    def tabulate(i):
        try:
            attendance.record_disposition(configured, agent, client, kinds[i], call_id=CALL)
        except ValidationError as error:  # one tabulação per call: the others are told to change it
            refused.append(error)

    all_at_once(3, tabulate)
    dispositions = CallDisposition.objects.filter(client=client)
    assert dispositions.count() + len(refused) == 3
    assert dispositions.exclude(type__behavior=DispositionBehavior.NEGOTIATE).count() == 1, "one tabulação per call"
    assert dispositions.filter(qualification_status=Status.PENDING).count() == 1, "only one goes to 3C Plus"
    run_worker()
    assert len(qualifications_of(sandbox, CALL)) == 1


def test_the_write_back_run_twice_at_once_posts_once(configured, agent, make_client, sandbox):
    client = make_client()
    kind = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.VOICEMAIL)
    disposition, _ = attendance.record_disposition(configured, agent, client, kind, call_id=CALL)
    sandbox.set_faults(latency_ms=300)  # both tasks are in flight together
    all_at_once(4, lambda i: attendance.send_qualification(disposition.pk))
    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.SENT and disposition.qualification_attempts == 1
    assert len(qualifications_of(sandbox, CALL)) == 1
