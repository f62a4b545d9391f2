"""Money in the browser: a baixa double-clicked posts one payment, and a supervisor reverses a payment from the
agreement's page with a kind and a reason."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import Agreement, Payment
from attendance.negotiation import Proposal
from attendance.payments import PaymentInput, post_payment
from attendance.services import create_agreement
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_a_double_clicked_baixa_posts_one_payment(page, live_server, tenant, supervisor, make_client):
    debt = make_client(debts=((D("500.00"), 40),)).debts.get()
    login(page, live_server, supervisor, next_url=f"/admin/attendance/payment/add/?debt={debt.pk}")
    page.fill("input[name=amount]", "100,00")  # partial: a second payment would be accepted
    page.get_by_role("button", name="Salvar", exact=True).dblclick()
    expect(page.locator("#result_list")).to_be_visible()
    assert Payment.objects.count() == 1
    debt.refresh_from_db()
    assert debt.paid_amount == D("100.00")


def test_a_supervisor_reverses_a_payment_from_the_agreement_page(
    page, live_server, tenant, supervisor, operator, make_client, lenient
):
    agreement = create_agreement(tenant, operator, make_client(debts=((D("600.00"), -10),)), Proposal(installments=1))
    inst = agreement.installments.get()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    post_payment(tenant, supervisor, PaymentInput(inst.amount, yesterday), installment=inst)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    login(page, live_server, supervisor, next_url=f"/admin/attendance/agreement/{agreement.pk}/change/")
    expect(page.get_by_test_id("receipt-link")).to_be_visible()
    page.get_by_test_id("reverse-link").first.click()
    page.select_option("select[name=kind]", "devolucao_pix")
    page.fill("textarea[name=reason]", "PIX devolvido pelo banco")
    page.get_by_test_id("confirm-reverse").click()
    expect(page).to_have_url(f"{live_server.url}/admin/attendance/agreement/{agreement.pk}/change/")
    expect(page.get_by_text("Pagamento estornado")).to_be_visible()
    expect(page.get_by_test_id("installment-payment")).to_contain_text("estornado")
    payment = Payment.objects.get()
    assert payment.reversal_kind == "devolucao_pix" and payment.reversal_reason == "PIX devolvido pelo banco"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
