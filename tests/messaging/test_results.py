"""The régua's results on the dashboard: sent, delivered, read, replied, and the agreement of the following days
attributed to the last step that touched the client; a supervisor pauses a step from the admin."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement, Message
from messaging.models import Send, Step


def touch(step, client, status, at, channel="whatsapp"):
    message = Message.objects.create(
        tenant=client.tenant, client=client, channel=channel, direction="enviada", body="x", sent_at=at, status=status
    )
    send = Send.objects.create(
        tenant=client.tenant, step=step, client=client, day=at.date(), channel=channel, message=message
    )
    Send.objects.filter(pk=send.pk).update(created_at=at)


@pytest.mark.django_db
def test_results_per_step_with_the_agreement_on_the_last_touch(
    client, supervisor, tenant, creditor, operator, make_client
):
    now = timezone.now()
    first = Step.objects.create(tenant=tenant, creditor=creditor, name="D+1", offset_days=1, active=True)
    second = Step.objects.create(tenant=tenant, creditor=creditor, name="D+5", offset_days=5, active=True)
    ana, bia = make_client(name="Ana"), make_client(name="Bia")
    touch(first, ana, "lida", now - datetime.timedelta(days=4))
    touch(second, ana, "entregue", now - datetime.timedelta(days=1))
    touch(first, bia, "enviada", now - datetime.timedelta(days=3))
    Message.objects.create(
        tenant=tenant, client=ana, direction="recebida", body="ok", sent_at=now - datetime.timedelta(hours=20)
    )
    Agreement.objects.create(
        tenant=tenant,
        client=ana,
        creditor=creditor,
        operator=operator,
        status=Agreement.Status.ACTIVE,
        principal=Decimal("100"),
        total=Decimal("100"),
        installments_count=1,
        first_due_date=now.date(),
    )
    client.force_login(supervisor)
    page = client.get("/admin/painel/regua/")
    rows = {row["step"].name: row for row in page.context["rows"]}
    assert (rows["D+1"]["sent"], rows["D+1"]["read"], rows["D+1"]["replied"], rows["D+1"]["agreements"]) == (2, 1, 0, 0)
    assert (rows["D+5"]["delivered"], rows["D+5"]["replied"], rows["D+5"]["agreements"]) == (1, 1, 1)

    # The supervisor pauses the second step.
    changelist = "/admin/messaging/step/"
    client.post(changelist, {"action": "pause", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.paused and second.paused_by == supervisor
    assert "D+5" in client.get(changelist + "previa/").content.decode()


@pytest.mark.django_db
def test_an_operator_sees_no_results(client, operator):
    client.force_login(operator)
    assert client.get("/admin/painel/regua/").status_code in (302, 403)
