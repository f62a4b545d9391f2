"""The send preview after an agreement: the agreement is named as the reason, and a rejected one lets the client
be sent again to the campaign it had been taken out of."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement
from attendance.negotiation import Proposal
from attendance.services import create_agreement, reject_agreement
from dialer.models import DialerExport, DialerRemoval

CHANGELIST = "/admin/core/client/"
D = Decimal


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def preview(client, debtor):
    response = client.post(CHANGELIST, {"action": "send_to_dialer", "index": "0", "_selected_action": [debtor.pk]})
    assert response.status_code == 200
    return response.content.decode()


def test_an_active_agreement_is_the_reason_not_a_zero_balance(client, supervisor, operator, dialer_tenant, make_client):
    debtor = make_client(name="Em Acordo", debts=((D("800.00"), 30),))
    agreement = create_agreement(dialer_tenant, operator, debtor, Proposal(installments=1))
    assert agreement.status == Agreement.Status.ACTIVE
    debtor.refresh_from_db()
    assert debtor.open_balance == 0  # the títulos left "em aberto" for the agreement
    client.force_login(supervisor)
    html = preview(client, debtor)
    assert "acordo ativo ou aguardando aprovação: <strong>1</strong>" in html
    assert "saldo zero" not in html


def test_after_a_rejection_the_client_can_be_sent_again(
    client,
    supervisor,
    operator,
    dialer_tenant,
    make_client,
    sandbox,
    immediate_tasks,
    django_capture_on_commit_callbacks,
):
    debtor = make_client(name="Rejeitada Depois", debts=((D("1500.00"), 40),))
    client.force_login(supervisor)
    html = preview(client, debtor)
    assert 'id="preview-to-send" class="font-semibold">1<' in html
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    data = {"action": "send_to_dialer", "index": "0", "_selected_action": [debtor.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {**data, "confirm": "1", "campaign": campaign, "list_name": "Primeira"})
    assert DialerExport.objects.get().sent_count == 1
    # Beyond the creditor's discount: it waits for the supervisor, and the client leaves the campaign meanwhile.
    first_due = timezone.localdate() + datetime.timedelta(days=5)
    proposal = Proposal(discount_percent=D("60"), installments=3, first_due_date=first_due, fill_minimum_entry=True)
    with django_capture_on_commit_callbacks(execute=True):
        agreement = create_agreement(
            dialer_tenant, operator, debtor, proposal, justification="Cliente desempregado, só paga assim."
        )
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    assert DialerRemoval.objects.get(client=debtor).status == DialerRemoval.Status.DONE
    reject_agreement(dialer_tenant, supervisor, agreement, "Desconto acima do permitido pelo credor.")
    html = preview(client, debtor)
    assert "enviado recentemente" not in html
    assert 'id="preview-to-send" class="font-semibold">1<' in html
