"""Estorno through the admin pages as a supervisor does it: the payment stays, marked reversed, and everything it
settled opens again: installment, agreement, títulos, client situation, dialer eligibility, panel and timeline."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.payments import PaymentInput, break_overdue_agreements, post_payment, reverse_payment
from attendance.services import create_agreement
from core.models import Client, Debt
from core.timeline import page as timeline_page
from dialer import eligibility
from tenants.models import AuditEvent

D = Decimal
YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


@pytest.fixture
def paid_agreement(tenant, supervisor, operator, creditor, make_client):
    """A client quitado through an agreement of 2 installments, both paid."""
    creditor.min_entry_percent = D("0")
    creditor.save()
    client = make_client(external_id="A1", debts=((D("300.00"), 40),))
    agreement = create_agreement(
        tenant, operator, client, Proposal(installments=2, first_due_date=timezone.localdate())
    )
    for inst in agreement.installments.all():
        post_payment(tenant, supervisor, PaymentInput(amount=inst.amount, paid_on=YESTERDAY), installment=inst)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    return agreement


def reverse_through_page(http, payment, **typed):
    url = f"/admin/attendance/payment/{payment.pk}/estornar/"
    assert http.get(url).status_code == 200
    return http.post(url, {"kind": "chargeback", "reason": "Contestação no cartão", **typed})


def test_a_reversal_reopens_a_quitado_agreement_and_puts_the_client_back_in_the_wallet(
    client, tenant, supervisor, paid_agreement
):
    debtor = paid_agreement.client
    debtor.refresh_from_db()
    assert debtor.status == Client.Status.PAID
    last = Payment.objects.get(installment__number=2)
    client.force_login(supervisor)
    change = client.get(f"/admin/attendance/agreement/{paid_agreement.pk}/change/").content.decode()
    assert f"/admin/attendance/payment/{last.pk}/estornar/" in change

    response = reverse_through_page(client, last)
    assert response.status_code == 302, response.content.decode()[:3000]

    last.refresh_from_db()
    assert last.reversed_at is not None and last.reversal_kind == "chargeback"
    assert last.reversal_reason == "Contestação no cartão" and last.reversed_by == supervisor
    assert Payment.objects.count() == 2  # kept, never deleted
    inst = last.installment
    inst.refresh_from_db()
    assert inst.status == AgreementInstallment.Status.OPEN and inst.paid_amount == 0 and inst.paid_on is None
    paid_agreement.refresh_from_db()
    assert paid_agreement.status == Agreement.Status.ACTIVE and paid_agreement.closed_at is None
    assert set(paid_agreement.debts.values_list("status", flat=True)) == {Debt.Status.IN_AGREEMENT}
    debtor.refresh_from_db()
    assert debtor.status == Client.Status.AGREEMENT
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_REVERSED, object_id=str(last.pk)).exists()
    entries, _more = timeline_page(debtor)
    assert any(e.title.startswith("Estorno de R$") for e in entries)

    # The installment is late beyond tolerance: the daily breakage breaks the agreement, and the client is back
    # in the wallet with its título open for what is left, and may be dialled.
    later = inst.due_date + datetime.timedelta(days=paid_agreement.creditor.late_tolerance_days + 1)
    assert break_overdue_agreements(later) == 1
    debtor.refresh_from_db()
    assert debtor.status == Client.Status.OPEN
    debt = paid_agreement.debts.get()
    assert debt.status == Debt.Status.OPEN
    assert debt.paid_amount == Payment.objects.get(installment__number=1).amount
    assert debtor.open_balance == debt.original_amount - debt.paid_amount
    reasons = eligibility.classify(Client.objects.filter(pk=debtor.pk), tenant, None)
    assert reasons.get().skip_reason not in ("quitado", "em_acordo", "saldo_zero")


def test_reversing_twice_does_nothing(client, supervisor, paid_agreement):
    last = Payment.objects.get(installment__number=2)
    client.force_login(supervisor)
    assert reverse_through_page(client, last).status_code == 302
    again = client.post(f"/admin/attendance/payment/{last.pk}/estornar/", {"kind": "erro_manual", "reason": "de novo"})
    assert again.status_code == 302
    last.refresh_from_db()
    assert last.reversal_kind == "chargeback"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_REVERSED, object_id=str(last.pk)).count() == 1
    _payment, reversed_now = reverse_payment(last.tenant, supervisor, last, kind="erro_manual", reason="outra vez")
    assert not reversed_now
    inst = last.installment
    inst.refresh_from_db()
    assert inst.paid_amount == 0  # not taken off twice


def test_a_reversal_needs_a_reason_and_a_kind(client, supervisor, paid_agreement):
    last = Payment.objects.get(installment__number=2)
    client.force_login(supervisor)
    response = reverse_through_page(client, last, reason="   ")
    assert response.status_code == 200 and "Informe o motivo do estorno." in response.content.decode()
    response = reverse_through_page(client, last, kind="sumiu")
    assert response.status_code == 200 and "Faça uma escolha válida" in response.content.decode()
    last.refresh_from_db()
    assert last.reversed_at is None


def test_operators_cannot_reverse(client, operator, tenant_admin, paid_agreement):
    last = Payment.objects.get(installment__number=2)
    client.force_login(operator)
    response = client.post(f"/admin/attendance/payment/{last.pk}/estornar/", {"kind": "chargeback", "reason": "x"})
    assert response.status_code in (302, 403)
    last.refresh_from_db()
    assert last.reversed_at is None
    client.force_login(tenant_admin)
    assert reverse_through_page(client, last).status_code == 302


def test_a_reversed_title_payment_reopens_a_quitado_client(client, tenant, supervisor, make_client):
    debtor = make_client(external_id="T1", debts=((D("100.00"), 40),))
    debt = debtor.debts.get()
    payment, _created = post_payment(tenant, supervisor, PaymentInput(amount=D("100.00"), paid_on=YESTERDAY), debt=debt)
    debtor.refresh_from_db()
    assert debtor.status == Client.Status.PAID and debtor.open_balance == 0
    client.force_login(supervisor)
    page = client.get(f"/admin/attendance/payment/{payment.pk}/change/").content.decode()
    assert "Estornar pagamento" in page
    assert reverse_through_page(client, payment, kind="devolucao_pix", reason="PIX devolvido").status_code == 302
    debt.refresh_from_db()
    debtor.refresh_from_db()
    assert debt.status == Debt.Status.OPEN and debt.paid_amount == 0
    assert debtor.status == Client.Status.OPEN and debtor.open_balance == D("100.00")
    page = client.get(f"/admin/attendance/payment/{payment.pk}/change/").content.decode()
    assert "Devolução PIX" in page and "PIX devolvido" in page
    listing = client.get("/admin/attendance/payment/").content.decode()
    assert re.search(r"Devolução PIX", listing)


def test_a_reversal_on_a_broken_agreement_takes_back_what_the_breakage_credited(
    tenant, supervisor, operator, creditor, make_client
):
    creditor.min_entry_percent = D("0")
    creditor.save()
    debtor = make_client(external_id="B1", debts=((D("300.00"), 40),))
    agreement = create_agreement(
        tenant, operator, debtor, Proposal(installments=3, first_due_date=timezone.localdate())
    )
    first = agreement.installments.get(number=1)
    payment, _c = post_payment(
        tenant, supervisor, PaymentInput(amount=first.amount, paid_on=YESTERDAY), installment=first
    )
    assert break_overdue_agreements(timezone.localdate() + datetime.timedelta(days=90)) == 1
    debt = agreement.debts.get()
    assert debt.paid_amount == first.amount
    reverse_payment(tenant, supervisor, payment, kind="erro_manual", reason="baixa no cliente errado")
    debt.refresh_from_db()
    debtor.refresh_from_db()
    assert debt.paid_amount == 0 and debt.status == Debt.Status.OPEN
    assert debtor.open_balance == debt.original_amount
