"""A removal whose worker died, or whose task never made it to the queue, is sent again without anyone acting."""

import datetime

import pytest
from django.utils import timezone

from core.task_leases import sweep_orphaned_tasks
from dialer import removals
from dialer.models import DialerRemoval
from dialer.tasks import remove_from_lists
from tests.core.test_worker_leases import running_task

pytestmark = pytest.mark.django_db


def test_a_removal_whose_task_was_lost_or_died_is_sent_again(
    dialer_tenant, campaign_id, make_client, run_worker, client, settings
):
    person = make_client()
    contacts = [{"phone": "11987654321", "identifier": str(person.pk)}]

    def removal():
        return DialerRemoval.objects.create(
            tenant=dialer_tenant, client=person, campaign_id=campaign_id, contacts=contacts
        )

    lost, died, fresh = removal(), removal(), removal()
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.WORKER_STUCK_SECONDS + 1)
    DialerRemoval.objects.filter(pk__in=[lost.pk, died.pk]).update(created_at=long_ago)
    remove_from_lists.enqueue(fresh.pk)  # queued a moment ago: in hand
    running_task(remove_from_lists, died.pk)
    # Nothing will send `lost` (its enqueue never happened): /healthz says so, and the admin may retry it.
    assert client.get("/healthz").json()["removals_stuck"] == 1
    assert removals.stuck_removal(lost) and not removals.stuck_removal(fresh)

    sweep_orphaned_tasks()  # `died` comes back to the queue
    assert removals.sweep_removals() == [lost.pk]  # `lost` is queued; `died` and `fresh` are in hand
    assert removals.sweep_removals() == []
    run_worker()
    assert set(DialerRemoval.objects.values_list("status", flat=True)) == {DialerRemoval.Status.DONE}
    assert client.get("/healthz").json()["removals_stuck"] == 0


def test_the_admin_retries_a_removal_stuck_pending(dialer_tenant, make_client, django_capture_on_commit_callbacks):
    removal = DialerRemoval.objects.create(tenant=dialer_tenant, client=make_client(), campaign_id=1, contacts=[])
    with django_capture_on_commit_callbacks(execute=True):
        assert removals.retry_removal(removal)
    assert not removals.retry_removal(removal)  # now queued: nothing to retry


def test_the_retry_action_on_the_removals_page_queues_the_stuck_ones(
    client, dialer_tenant, tenant_admin, make_client, django_capture_on_commit_callbacks
):
    """The admin's "Tentar remover de novo", as a person presses it: a stuck pending removal and a failed one are
    queued again; one whose task is in hand is left alone."""
    stuck, failed, queued = (
        DialerRemoval.objects.create(tenant=dialer_tenant, client=make_client(), campaign_id=1, contacts=[])
        for _ in range(3)
    )
    DialerRemoval.objects.filter(pk=failed.pk).update(status=DialerRemoval.Status.FAILED, error="503")
    remove_from_lists.enqueue(queued.pk)
    client.force_login(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/dialer/dialerremoval/",
            {"action": "retry", "_selected_action": [stuck.pk, failed.pk, queued.pk]},
            follow=True,
        )
    assert "2 remoção(ões) na fila de novo." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (DialerRemoval.Status.PENDING, "")
    assert removals.stuck_removal(stuck) is False and removals.stuck_removal(failed) is False
