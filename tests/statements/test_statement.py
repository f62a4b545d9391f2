"""The creditor's statement through its admin page: a month adds up to its payments to the cent (a reversal in the
month included), closing freezes it, a reversal after the closing goes to the next month, and the XLSX and PDF
files hold the same figures (read back with openpyxl and pypdf)."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pypdf
import pytest
from freezegun import freeze_time

from attendance import payments
from attendance.models import Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from common.parsing import format_brl
from statements import services
from statements.models import Statement, StatementLine

D = Decimal
NOVEMBER = datetime.date(2026, 11, 1)
URL = "/admin/statements/statement/mes/"


def at(day, hour=15):
    """Mid-afternoon in Brazil, so the local date is `day` whatever the offset."""
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)


@pytest.fixture
def charged(creditor):
    """A creditor whose agreements carry juros, multa and honorários, with no minimum entry."""
    creditor.min_entry_percent = D("0")
    creditor.fees_percent = D("10")
    creditor.monthly_interest_percent = D("1.5")
    creditor.fine_percent = D("2")
    creditor.max_installments = 12
    creditor.min_installment_amount = D("0")
    creditor.save()
    return creditor


@pytest.fixture
def november(tenant, supervisor, operator, charged, make_client):
    """In November: an agreement of 3 installments (2 paid, one of them reversed the same month), a título paid
    with a credit above what was open, and a payment on another creditor's client that never shows."""
    with freeze_time(at(datetime.date(2026, 11, 3))):
        client = make_client(external_id="A1", debts=((D("1000.00"), 95), (D("333.33"), 40)))
        agreement = create_agreement(
            tenant, operator, client, Proposal(installments=3, first_due_date=datetime.date(2026, 11, 5))
        )
        titled = make_client(external_id="T1", debts=((D("250.10"), 70), (D("50.00"), 40)))
    assert agreement.interest > 0 and agreement.fine > 0 and agreement.fees > 0
    inst = list(agreement.installments.order_by("number"))
    with freeze_time(at(datetime.date(2026, 11, 10))):
        first = pay(tenant, supervisor, inst[0].amount, datetime.date(2026, 11, 9), installment=inst[0])
        second = pay(tenant, supervisor, inst[1].amount, datetime.date(2026, 11, 10), installment=inst[1])
        titulo = payments.post_payment(
            tenant,
            supervisor,
            payments.PaymentInput(D("260.00"), datetime.date(2026, 11, 10), "pix", accept_credit=True),
            debt=titled.debts.get(installment_number=1),
        )[0]
    with freeze_time(at(datetime.date(2026, 11, 20))):
        payments.reverse_payment(tenant, supervisor, second, kind="chargeback", reason="contestado")
    spare = titled.debts.get(installment_number=2)
    return {"agreement": agreement, "first": first, "second": second, "titulo": titulo, "spare": spare}


def pay(tenant, user, amount, paid_on, **target):
    return payments.post_payment(tenant, user, payments.PaymentInput(D(amount), paid_on, "pix"), **target)[0]


def summary_of(html: str) -> str:
    return html[html.index('data-testid="statement-summary"') :]


def test_a_month_adds_up_to_its_payments_to_the_cent_and_closing_freezes_it(client, tenant, supervisor, november):
    first, second, titulo = november["first"], november["second"], november["titulo"]
    client.force_login(supervisor)
    with freeze_time(at(datetime.date(2026, 12, 2))):
        page = client.get(URL, {"creditor": november["agreement"].creditor_id, "month": "2026-11"})
        assert page.status_code == 200
        html = page.content.decode()
        figures = services.statement(tenant, november["agreement"].creditor, NOVEMBER)

        received = first.amount + second.amount + titulo.amount
        assert figures.received == received
        assert figures.reversed_amount == second.amount
        totals = figures.totals()
        parts = sum(totals[name] for name in services.PARTS)
        assert parts == received - second.amount  # every cent of the net is in one of the parts
        assert totals["credit"] == D("9.90")  # 260,00 on 250,10 open
        # The título is all principal; the agreement's installment in its proportions, to the cent.
        split = services.split_payment(first)
        agreement = november["agreement"]
        corrected = agreement.principal + agreement.interest + agreement.fine + agreement.fees
        assert split.fees == (first.amount * agreement.fees / corrected).quantize(D("0.01"))
        assert split.principal + split.interest + split.fine + split.fees == first.amount
        assert totals["principal"] == split.principal + D("250.10")
        assert totals["fees"] == split.fees
        assert totals["repasse"] == split.principal + split.interest + split.fine + D("250.10")
        assert format_brl(totals["repasse"]) in summary_of(html) and "Em aberto" in html

        closed = client.post(URL, {"creditor": agreement.creditor_id, "month": "2026-11"})
        assert closed.status_code == 302
    statement = Statement.objects.get()
    assert statement.received == received and statement.repasse == totals["repasse"]
    assert statement.lines.count() == 4  # three receipts and one reversal
    assert set(statement.lines.values_list("kind", flat=True)) == {"recebimento", "estorno"}

    # December: a reversal of a November payment goes to December; November does not move.
    with freeze_time(at(datetime.date(2026, 12, 5))):
        url = f"/admin/attendance/payment/{first.pk}/estornar/"
        assert client.post(url, {"kind": "devolucao_pix", "reason": "PIX devolvido"}).status_code == 302
        # A late baixa dated in November, posted after the closing, also goes to December.
        late = pay(tenant, supervisor, D("10.00"), datetime.date(2026, 11, 28), debt=november["spare"])
    with freeze_time(at(datetime.date(2027, 1, 3))):
        client.force_login(supervisor)  # the session of December has expired
        again = services.statement(tenant, agreement.creditor, NOVEMBER)
        assert again.closed is not None and again.totals() == totals
        page = client.get(URL, {"creditor": agreement.creditor_id, "month": "2026-11"}).content.decode()
        assert "Fechada em" in page and 'data-testid="close-month"' not in page
        december = services.statement(tenant, agreement.creditor, datetime.date(2026, 12, 1))
        assert [(line.kind, line.payment.pk) for line in december.lines] == [
            ("recebimento", late.pk),  # dated 28/11, counted in the first open month
            ("estorno", first.pk),
        ]
        assert december.received == D("10.00") and december.reversed_amount == first.amount
        assert december.repasse == D("10.00") - (split.principal + split.interest + split.fine)
        assert client.post(URL, {"creditor": agreement.creditor_id, "month": "2026-12"}).status_code == 302
    assert Statement.objects.count() == 2
    assert StatementLine.objects.filter(payment=first).count() == 2  # received in November, reversed in December


def test_the_xlsx_and_the_pdf_hold_the_figures(client, tenant, supervisor, november):
    client.force_login(supervisor)
    creditor = november["agreement"].creditor
    with freeze_time(at(datetime.date(2026, 12, 2))):
        figures = services.statement(tenant, creditor, NOVEMBER)
        query = {"creditor": creditor.pk, "month": "2026-11"}
        xlsx = client.get(URL, {**query, "formato": "xlsx"})
        pdf = client.get(URL, {**query, "formato": "pdf"})
    assert xlsx.status_code == 200 and "attachment" in xlsx["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    summary = {row[0]: row[1] for row in book["Resumo"].iter_rows(values_only=True) if row and row[0]}
    assert D(str(summary["Recebido no mês"])) == figures.received
    assert D(str(summary["Repasse devido ao credor"])) == figures.repasse
    assert D(str(summary["Honorários (receita da assessoria)"])) == figures.totals()["fees"]
    lines = list(book["Lançamentos"].iter_rows(values_only=True))
    assert len(lines) == 1 + len(figures.lines)
    assert sum(D(str(row[5])) for row in lines[1:]) == figures.received - figures.reversed_amount

    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Prestação de contas" in text and creditor.name in text
    for value in (figures.received, figures.repasse, figures.totals()["fees"], november["first"].amount):
        assert format_brl(value) in text


def test_months_close_in_order_and_only_when_over(client, tenant, supervisor, operator, november):
    client.force_login(supervisor)
    creditor = november["agreement"].creditor
    with freeze_time(at(datetime.date(2026, 11, 25))):
        response = client.post(URL, {"creditor": creditor.pk, "month": "2026-11"}, follow=True)
        assert "ainda não terminou" in response.content.decode()
    with freeze_time(at(datetime.date(2027, 1, 2))):
        client.force_login(supervisor)
        pay(tenant, supervisor, D("1.00"), datetime.date(2026, 12, 15), debt=november["spare"])
        response = client.post(URL, {"creditor": creditor.pk, "month": "2026-12"}, follow=True)
        assert "Feche antes a prestação de contas de 11/2026" in response.content.decode()
        assert not Statement.objects.exists()
        response = client.get(URL, {"creditor": creditor.pk, "month": "01/2026"})
        assert "aaaa-mm" in response.content.decode()
        client.force_login(operator)
        assert client.post(URL, {"creditor": creditor.pk, "month": "2026-11"}).status_code in (302, 403)
    assert not Statement.objects.exists()


def test_another_tenants_creditor_is_not_offered(client, other_tenant, november, make_client):
    from tests.conftest import make_user

    stranger = make_user(other_tenant, "supervisor")
    client.force_login(stranger)
    creditor = november["agreement"].creditor
    response = client.get(URL, {"creditor": creditor.pk, "month": "2026-11"})
    assert response.status_code == 200
    assert "statement-summary" not in response.content.decode()
    assert Payment.objects.filter(tenant=other_tenant).count() == 0
