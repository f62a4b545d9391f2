"""The baixa by hand, through the admin page as a supervisor uses it: one submitted form is one payment, and its
date is one a payment can have (the same window as the payment file)."""

import datetime
import re
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from attendance.models import AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from tenants.models import AuditEvent
from tests.attendance.test_payment_import import csv_file, run_command

D = Decimal
YESTERDAY = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")


@pytest.fixture
def titulo(make_client):
    return make_client(external_id="T1", debts=((D("100.00"), 40),)).debts.get()


@pytest.fixture
def installment(tenant, operator, creditor, make_client):
    creditor.min_entry_percent = D("0")
    creditor.save()
    client = make_client(external_id="A1", debts=((D("300.00"), 40),))
    agreement = create_agreement(
        tenant, operator, client, Proposal(installments=2, first_due_date=timezone.localdate())
    )
    return agreement.installments.get(number=1)


def baixa_form(browser, query: str, **typed) -> tuple[str, dict]:
    """Open the baixa page as a person does and fill it: (url, what the browser posts), the hidden token included."""
    url = f"/admin/attendance/payment/add/?{query}"
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    form = {**hidden, "amount": "10,00", "paid_on": YESTERDAY, "method": "pix", "notes": ""}
    form.pop("csrfmiddlewaretoken", None)
    return url, {**form, **typed}


@pytest.mark.parametrize("target", ["installment", "debt"])
def test_the_same_form_posted_twice_posts_one_payment(client, supervisor, titulo, installment, target):
    client.force_login(supervisor)
    query = f"installment={installment.pk}" if target == "installment" else f"debt={titulo.pk}"
    url, form = baixa_form(client, query, amount="10,00")  # partial: a second payment would be accepted
    first = client.post(url, form)
    assert first.status_code == 302, first.content.decode()[:2000]
    again = client.post(url, form, follow=True)  # the double click, or the browser's "resubmit"
    assert again.status_code == 200
    assert "Esta baixa já estava registrada" in again.content.decode()
    assert Payment.objects.count() == 1
    paid = installment if target == "installment" else titulo
    paid.refresh_from_db()
    assert paid.paid_amount == D("10.00")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_POSTED).count() == 1
    recorded = client.get(f"/admin/attendance/payment/{Payment.objects.get().pk}/change/")
    assert recorded.status_code == 200 and ">Token<" not in recorded.content.decode()  # the form's, not the payment's

    url, form = baixa_form(client, query, amount="10,00")  # a new form is a new payment
    assert client.post(url, form).status_code == 302
    assert Payment.objects.count() == 2


def test_the_full_installment_posted_twice_is_not_an_already_paid_error(client, supervisor, installment):
    client.force_login(supervisor)
    url, form = baixa_form(client, f"installment={installment.pk}", amount=f"{installment.amount:.2f}")
    assert client.post(url, form).status_code == 302
    again = client.post(url, form, follow=True)
    html = again.content.decode()
    assert "Esta baixa já estava registrada" in html and "já está paga" not in html
    installment.refresh_from_db()
    assert installment.status == AgreementInstallment.Status.PAID and Payment.objects.count() == 1


def test_a_form_without_its_token_posts_nothing(client, supervisor, titulo):
    client.force_login(supervisor)
    url, form = baixa_form(client, f"debt={titulo.pk}")
    del form["token"]
    assert client.post(url, form).status_code == 200
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "typed, message",
    [
        ("01/01/0001", "anterior a 01/01/1990"),
        ("31/12/1989", "anterior a 01/01/1990"),
        ("31/12/9999", "não pode estar no futuro"),
    ],
)
def test_a_date_outside_the_window_is_refused_on_the_form(client, supervisor, titulo, typed, message):
    client.force_login(supervisor)
    url, form = baixa_form(client, f"debt={titulo.pk}", paid_on=typed)
    response = client.post(url, form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Payment.objects.exists()
    _url, form = baixa_form(client, f"debt={titulo.pk}", paid_on="01/01/1990")  # the window's first day
    assert client.post(url, form).status_code == 302


def test_the_file_refuses_the_same_dates(titulo, tmp_path):
    rows = [
        {"id_pagamento": f"P{i}", "external_id": "T1", "contrato": titulo.contract_code, "data": day, "valor": "1,00"}
        for i, day in enumerate(("01/01/0001", "31/12/9999", "01/01/1990"))
    ]
    path = tmp_path / "p.csv"
    path.write_bytes(csv_file(rows))
    assert "3 linhas lidas, 1 pagamentos registrados" in run_command(path)
    errors = (tmp_path / "p.csv.erros.csv").read_text()
    assert "anterior a 01/01/1990" in errors and "não pode estar no futuro" in errors


@pytest.fixture
def committed():
    """Real commits for concurrent requests, on PostgreSQL; earlier transactional tests flushed the tabulações
    the migrations put in, and "Gerar acordo" records one."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has a single writer)")
    from attendance.defaults import ensure_default_disposition_types
    from attendance.models import DispositionType

    ensure_default_disposition_types(DispositionType)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("target", ["installment", "debt"])
def test_the_same_form_posted_at_once_from_six_tabs_posts_one_payment(
    committed, supervisor, titulo, installment, target
):
    browsers = [HttpClient() for _ in range(6)]
    for browser in browsers:
        browser.force_login(supervisor)
    query = f"installment={installment.pk}" if target == "installment" else f"debt={titulo.pk}"
    url, form = baixa_form(browsers[0], query, amount="10,00")
    barrier, statuses = threading.Barrier(6), []

    def post(browser):
        try:
            barrier.wait()
            statuses.append(browser.post(url, form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 6
    assert Payment.objects.count() == 1
    paid = installment if target == "installment" else titulo
    paid.refresh_from_db()
    assert paid.paid_amount == D("10.00")
