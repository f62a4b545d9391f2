import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from freezegun import freeze_time

from attendance import payments
from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from core import timeline
from core.models import Client, Debt
from tenants.models import AuditEvent

D = Decimal
TODAY = datetime.date(2026, 3, 2)


def at(day):
    """Mid-afternoon in Brazil, so the local date is `day` whatever the offset."""
    return datetime.datetime.combine(day, datetime.time(15), tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def no_minimum_entry(creditor):
    creditor.min_entry_percent = D("0")
    creditor.save()


@pytest.fixture
def removed(monkeypatch):
    calls = []
    # The dialer hears it through core's stop-calling hooks (it registers its removal from the lists there).
    monkeypatch.setattr("core.hooks.stop_calling_hooks", lambda client, **_: calls.append(client.pk))
    return calls


def agreement_for(tenant, operator, client, installments=3, entry=0):
    return create_agreement(
        tenant,
        operator,
        client,
        Proposal(installments=installments, entry=entry, first_due_date=TODAY + datetime.timedelta(days=3)),
    )


def pay(tenant, user, amount, paid_on=TODAY, **target):
    return payments.post_payment(tenant, user, payments.PaymentInput(D(amount), paid_on, "pix"), **target)[0]


@pytest.fixture
def two_debts(make_client):
    return make_client(debts=((D("300.00"), 10), (D("200.00"), 5)))


@freeze_time(at(TODAY))
def test_paying_every_installment_settles_the_agreement_and_the_client(
    tenant, operator, creditor, two_debts, removed, django_capture_on_commit_callbacks
):
    creditor.monthly_interest_percent = creditor.fine_percent = D("0")
    creditor.save()
    agreement = agreement_for(tenant, operator, two_debts)
    assert agreement.status == Agreement.Status.ACTIVE
    first, second, third = agreement.installments.all()
    assert (first.amount, third.amount) == (D("166.66"), D("166.68"))

    pay(tenant, operator, "100.00", installment=first)
    first.refresh_from_db()
    assert (first.status, first.paid_amount) == (AgreementInstallment.Status.OPEN, D("100.00"))
    pay(tenant, operator, "66.66", installment=first)
    pay(tenant, operator, "166.66", installment=second)
    first.refresh_from_db()
    assert (first.status, first.paid_on, first.payment_method) == ("paga", TODAY, "pix")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        pay(tenant, operator, "166.68", installment=third)

    agreement.refresh_from_db()
    two_debts.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    assert set(Debt.objects.filter(client=two_debts).values_list("status", flat=True)) == {Debt.Status.PAID}
    assert (two_debts.status, two_debts.open_balance) == (Client.Status.PAID, D("0"))
    assert removed == [two_debts.pk]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.AGREEMENT_SETTLED, object_id=str(agreement.pk)).exists()
    titles = [e.title for e in timeline.page(two_debts)[0]]
    assert any("quitado" in t.lower() for t in titles)
    assert sum("Pagamento" in t for t in titles) == 4


@freeze_time(at(TODAY))
def test_overpayment_is_refused_unless_accepted_as_credit(tenant, operator, two_debts):
    agreement = agreement_for(tenant, operator, two_debts, installments=2)
    first = agreement.installments.first()
    too_much = first.amount + D("10")
    with pytest.raises(ValidationError) as error:
        pay(tenant, operator, too_much, installment=first)
    assert "maior que o saldo" in str(error.value) and "crédito" in str(error.value)
    assert not Payment.objects.exists()

    payment, _ = payments.post_payment(
        tenant, operator, payments.PaymentInput(too_much, TODAY, "pix", accept_credit=True), installment=first
    )
    first.refresh_from_db()
    assert (first.status, first.paid_amount, payment.credit_amount) == ("paga", first.amount, D("10.00"))


@freeze_time(at(TODAY))
def test_paying_a_titulo_partially_then_fully_makes_the_client_quitado(
    tenant, operator, make_client, removed, django_capture_on_commit_callbacks
):
    wallet_client = make_client(debts=((D("100.00"), 40),))
    debt = wallet_client.debts.get()
    pay(tenant, operator, "30.00", debt=debt)
    wallet_client.refresh_from_db()
    assert (wallet_client.open_balance, wallet_client.status) == (D("70.00"), Client.Status.OPEN)
    with pytest.raises(ValidationError, match="maior que o saldo"):
        pay(tenant, operator, "70.01", debt=debt)
    with django_capture_on_commit_callbacks(execute=True):
        pay(tenant, operator, "70.00", debt=debt)
    wallet_client.refresh_from_db()
    debt.refresh_from_db()
    assert (debt.status, debt.paid_amount) == (Debt.Status.PAID, D("100.00"))
    assert (wallet_client.open_balance, wallet_client.status) == (D("0"), Client.Status.PAID)
    assert removed == [wallet_client.pk]

    # A new título (a wallet re-import) reopens the client.
    Debt.objects.create(
        tenant=tenant, client=wallet_client, contract_code="NEW", due_date=TODAY, original_amount=D("50")
    )
    Client.objects.filter(pk=wallet_client.pk).refresh_summaries()
    Client.objects.filter(pk=wallet_client.pk).refresh_situation()
    wallet_client.refresh_from_db()
    assert wallet_client.status == Client.Status.OPEN


@freeze_time(at(TODAY))
def test_a_titulo_in_agreement_and_a_future_date_are_refused(tenant, operator, two_debts):
    agreement_for(tenant, operator, two_debts)
    with pytest.raises(ValidationError, match="em acordo"):
        pay(tenant, operator, "10.00", debt=two_debts.debts.first())
    with pytest.raises(ValidationError, match="futuro"):
        pay(tenant, operator, "10.00", TODAY + datetime.timedelta(days=1), debt=two_debts.debts.first())


@freeze_time(at(TODAY))
def test_the_same_payment_id_is_recorded_once(tenant, operator, two_debts):
    debt = two_debts.debts.first()
    data = payments.PaymentInput(D("10.00"), TODAY, "pix", external_id="PG-1")
    first, created = payments.post_payment(tenant, operator, data, debt=debt)
    again, created_again = payments.post_payment(tenant, operator, data, debt=debt)
    assert (created, created_again, first.pk) == (True, False, again.pk)
    debt.refresh_from_db()
    assert debt.paid_amount == D("10.00")


def test_a_missed_installment_breaks_the_agreement_after_the_tolerance(tenant, operator, creditor, two_debts):
    creditor.late_tolerance_days = 5
    creditor.save()
    with freeze_time(at(TODAY)):
        agreement = agreement_for(tenant, operator, two_debts, installments=3)
        first = agreement.installments.first()
        pay(tenant, operator, first.amount, installment=first)
    second = agreement.installments.get(number=2)

    with freeze_time(at(second.due_date + datetime.timedelta(days=5))):
        assert payments.break_overdue_agreements() == 0
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE

    with freeze_time(at(second.due_date + datetime.timedelta(days=6))):
        assert payments.break_overdue_agreements() == 1
        assert payments.break_overdue_agreements() == 0  # the next run finds nothing left to break
        entries = timeline.page(two_debts)[0]

    agreement.refresh_from_db()
    two_debts.refresh_from_db()
    assert agreement.status == Agreement.Status.BROKEN
    assert "Parcela 2" in agreement.close_reason and "5 dia(s)" in agreement.close_reason
    # What was paid goes to the oldest título first; the client owes the rest of its títulos again.
    oldest, newest = two_debts.debts.order_by("due_date")
    assert (oldest.status, oldest.paid_amount) == (Debt.Status.OPEN, first.amount)
    assert (newest.status, newest.paid_amount) == (Debt.Status.OPEN, D("0"))
    assert two_debts.status == Client.Status.OPEN
    assert two_debts.open_balance == D("500.00") - first.amount
    event = AuditEvent.objects.get(action=AuditEvent.Action.AGREEMENT_BROKEN)
    assert event.object_id == str(agreement.pk) and event.tenant_id == tenant.pk
    assert any("quebrado" in e.title.lower() and "Parcela 2" in e.detail for e in entries)
    with pytest.raises(ValidationError, match="quebrado"):
        pay(tenant, operator, "10.00", second.due_date, installment=second)


def test_breakage_follows_each_creditors_tolerance(tenant, operator, creditor, make_client):
    from core.models import Creditor

    strict = Creditor.objects.create(tenant=tenant, name="Credor Rígido", max_installments=12, late_tolerance_days=0)
    with freeze_time(at(TODAY)):
        lenient_agreement = agreement_for(tenant, operator, make_client(), installments=1)
        strict_agreement = agreement_for(tenant, operator, make_client(creditor=strict), installments=1)
    with freeze_time(at(TODAY + datetime.timedelta(days=4))):
        assert payments.break_overdue_agreements() == 1
    assert Agreement.objects.get(pk=strict_agreement.pk).status == Agreement.Status.BROKEN
    assert Agreement.objects.get(pk=lenient_agreement.pk).status == Agreement.Status.ACTIVE


def test_the_worker_task_breaks_overdue_agreements(tenant, operator, two_debts, run_worker):
    from attendance.tasks import break_overdue_agreements

    with freeze_time(at(TODAY)):
        agreement = agreement_for(tenant, operator, two_debts)
    with freeze_time(at(TODAY + datetime.timedelta(days=30))):
        break_overdue_agreements.enqueue()
        run_worker()
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.BROKEN


def test_agreements_list_filters_due_this_week_overdue_state_and_operator(
    client, tenant, operator, supervisor, creditor, make_client
):
    from tests.conftest import make_user

    other_operator = make_user(tenant, "operador", username="outra-operadora")
    with freeze_time(at(TODAY)):  # a Monday
        this_week = agreement_for(tenant, operator, make_client(), installments=1)  # due Thursday
        later = create_agreement(
            tenant,
            other_operator,
            make_client(),
            Proposal(installments=1, first_due_date=TODAY + datetime.timedelta(days=20)),
        )
    late = None
    with freeze_time(at(TODAY - datetime.timedelta(days=10))):
        late = create_agreement(
            tenant, operator, make_client(), Proposal(installments=1, first_due_date=TODAY - datetime.timedelta(days=2))
        )
    client.force_login(supervisor)

    def ids(**params):
        with freeze_time(at(TODAY)):
            response = client.get("/admin/attendance/agreement/", params)
        assert response.status_code == 200
        return {a.pk for a in response.context["cl"].result_list}

    assert ids(parcelas="semana") == {this_week.pk}
    assert ids(parcelas="atrasadas") == {late.pk}
    assert ids(operator__id__exact=other_operator.pk) == {later.pk}
    assert ids(status__exact="ativo") == {this_week.pk, later.pk, late.pk}
    assert ids(creditor__id__exact=creditor.pk) == {this_week.pk, later.pk, late.pk}
