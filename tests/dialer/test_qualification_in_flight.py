"""While a qualification is on its way to a slow 3C Plus, the rest of the team keeps working.

On the README's demo (SQLite, the sandbox inside the app) the write-back held a transaction across its POST, so
every write waited on the dialer: an operator's tabulação answered 500 and logging in showed "database is
locked". Here the sandbox (real HTTP on loopback) holds the POST until the test has logged in and tabulated.
"""

import threading
import uuid

import pytest
from django.db import connection, transaction
from django.test import Client as HttpClient

from attendance import services as attendance
from attendance.models import CallDisposition, DispositionType
from dialer.types import DispositionBehavior
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallDisposition.QualificationStatus


@pytest.fixture(autouse=True)
def default_disposition_types(transactional_db):
    """A transactional test's flush empties the tables, the migration's tabulações included: put them back."""
    from attendance.defaults import ensure_default_disposition_types

    ensure_default_disposition_types(DispositionType)


@pytest.fixture
def slow_qualify(sandbox):
    """The sandbox answers a qualification only once the test lets it go; `posting` is set when it arrives."""
    posting, release = threading.Event(), threading.Event()
    handle = sandbox.handle

    def held(method, path, *args, **kwargs):
        if method == "POST" and path.rstrip("/").endswith("/qualify"):
            posting.set()
            release.wait(30)
        return handle(method, path, *args, **kwargs)

    sandbox.handle = held
    yield posting, release
    release.set()


def test_a_tabulation_and_a_login_go_through_while_a_qualification_is_in_flight(
    configured, agent, make_client, sandbox, slow_qualify, supervisor
):
    posting, release = slow_qualify
    voicemail = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.VOICEMAIL)
    first = make_client(name="Primeira Ligação")
    disposition, _ = attendance.record_disposition(configured, agent, first, voicemail, call_id="call:alfa:1:tel1")

    def worker():
        try:
            attendance.send_qualification(disposition.pk)
        finally:
            connection.close()

    sending = threading.Thread(target=worker)
    sending.start()
    try:
        assert posting.wait(15), "the write-back reached the sandbox"

        # The write-back's own row is not locked either: the admin's retry or the sweep can read and change it.
        with transaction.atomic():
            if connection.features.has_select_for_update_nowait:
                CallDisposition.objects.select_for_update(nowait=True).filter(pk=disposition.pk).exists()
            CallDisposition.objects.filter(pk=disposition.pk).update(notes="Caixa postal cheia")

        # A supervisor logs in (the session and the login's audit are writes).
        assert HttpClient().post("/entrar/", {"username": supervisor.username, "password": PASSWORD}).status_code == 302

        # The operator tabulates the next call.
        operator = HttpClient()
        operator.force_login(agent)
        second = make_client(name="Segunda Ligação", phones=("+5511977776666",))
        response = operator.post(
            f"/atendimento/{second.pk}/tabular/",
            {"type": voicemail.pk, "token": str(uuid.uuid4()), "notes": "", "call_id": "call:alfa:1:tel2"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        assert CallDisposition.objects.filter(client=second, call_id="call:alfa:1:tel2").exists()
    finally:
        release.set()
        sending.join(30)

    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.SENT
    assert disposition.qualification_claimed_at is None
    assert [q["call_id"] for q in sandbox.account("alfa").qualifications_received] == ["call:alfa:1:tel1"]


def test_a_write_back_being_posted_is_not_posted_again_nor_swept(configured, agent, make_client, sandbox, slow_qualify):
    """The same write-back queued again while its first run posts (a retry clicked, the sweep) posts once."""
    posting, release = slow_qualify
    voicemail = DispositionType.objects.get(tenant=None, behavior=DispositionBehavior.VOICEMAIL)
    disposition, _ = attendance.record_disposition(
        configured, agent, make_client(), voicemail, call_id="call:alfa:1:tel1"
    )

    def worker():
        try:
            attendance.send_qualification(disposition.pk)
        finally:
            connection.close()

    sending = threading.Thread(target=worker)
    sending.start()
    try:
        assert posting.wait(15)
        assert attendance.send_qualification(disposition.pk).qualification_status == Status.PENDING
        assert disposition.pk not in attendance.lost_qualifications(older_than_seconds=-60).values_list("pk", flat=True)
    finally:
        release.set()
        sending.join(30)
    disposition.refresh_from_db()
    assert disposition.qualification_status == Status.SENT and disposition.qualification_attempts == 1
    assert len(sandbox.account("alfa").qualifications_received) == 1
