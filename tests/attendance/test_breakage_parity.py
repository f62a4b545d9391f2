"""The daily breakage's two dialects agree: set-based SQL (PostgreSQL) and the ORM (SQLite) break the same
agreements with the same texts, give the títulos back the same money oldest first, leave the clients in the same
situation and write the same audit events.

On PostgreSQL both run on the same agreements (each in a transaction rolled back) and what they stored is compared
whole; on SQLite the ORM runs. Either way the stored result is checked against what the rules say.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from attendance import payments
from attendance.models import Agreement
from attendance.negotiation import Proposal
from attendance.payments import PaymentInput, post_payment
from attendance.services import create_agreement
from core.models import Client, Creditor, Debt
from tenants.models import AuditEvent

D = Decimal
TODAY = timezone.localdate()


class Rollback(Exception):
    pass


@pytest.fixture
def scenario(tenant, operator, supervisor, creditor, make_client, monkeypatch):
    monkeypatch.setattr("core.hooks.stop_calling_hooks", lambda client, **_: None)
    creditor.min_entry_percent = D("0")
    creditor.min_installment_amount = D("0")
    creditor.late_tolerance_days = 5
    creditor.save()
    strict = Creditor.objects.create(
        tenant=tenant, name="Financeira Estrita", max_installments=12, late_tolerance_days=0
    )
    agreements = {}

    def agree(name, debts, proposal, who=creditor):
        client = make_client(creditor=who, debts=debts)
        agreements[name] = create_agreement(tenant, operator, client, proposal)
        return agreements[name]

    def pay(inst, amount=None):
        post_payment(tenant, supervisor, PaymentInput(amount or inst.amount, TODAY), installment=inst)

    # Nothing paid, its entry overdue: both títulos reopen whole.
    agree("entry", ((D("100.00"), 40), (D("50.00"), 10)), Proposal(installments=3, entry=D("30"), first_due_date=TODAY))
    # Part of the first installment paid: the money goes to the oldest título first, the rest of it stays open.
    partly = agree("partly", ((D("80.00"), 70), (D("120.00"), 35)), Proposal(installments=3, first_due_date=TODAY))
    pay(partly.installments.get(number=1), D("60.55"))  # in part
    # Paid enough for every título: the client ends quitado.
    covered = agree(
        "covered", ((D("60.00"), 40), (D("40.00"), 50)), Proposal(installments=2, entry=D("100"), first_due_date=TODAY)
    )
    pay(covered.installments.get(number=0))
    # Within tolerance on the day of the run: stays active. The strict creditor has none: breaks.
    agree(
        "tolerated", ((D("100.00"), 40),), Proposal(installments=2, first_due_date=TODAY + datetime.timedelta(days=41))
    )
    agree(
        "strict",
        ((D("100.00"), 40),),
        Proposal(installments=2, first_due_date=TODAY + datetime.timedelta(days=41)),
        who=strict,
    )
    return agreements


def stored(agreements) -> dict:
    ids = [a.pk for a in agreements.values()]
    clients = [a.client_id for a in agreements.values()]
    return {
        "agreements": list(
            Agreement.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "status", "close_reason")
        ),
        "debts": list(
            Debt.objects.filter(client_id__in=clients).order_by("pk").values_list("pk", "status", "paid_amount")
        ),
        "clients": list(
            Client.objects.filter(pk__in=clients)
            .order_by("pk")
            .values_list("pk", "status", "open_balance", "oldest_due_date")
        ),
        "audit": sorted(
            (e.object_id, e.object_type, e.object_repr, e.user_id, e.changes)
            for e in AuditEvent.objects.filter(action=AuditEvent.Action.AGREEMENT_BROKEN)
        ),
    }


def test_the_sql_and_the_orm_breakage_store_the_same(scenario, monkeypatch):
    day = TODAY + datetime.timedelta(days=45)  # 4 days after the tolerated one's first due date
    implementations = [payments._break_batch_orm]
    if connection.vendor == "postgresql":
        implementations.append(payments._break_batch_sql)
    results = []
    for implementation in implementations:
        monkeypatch.setattr(payments, "_break_batch", implementation)
        try:
            with transaction.atomic():
                broken = payments.break_overdue_agreements(day, batch_size=2)  # several batches
                results.append((broken, stored(scenario)))
                raise Rollback
        except Rollback:
            pass
    broken, result = results[0]
    assert broken == 4
    status = {pk: s for pk, s, _reason in result["agreements"]}
    assert status[scenario["tolerated"].pk] == Agreement.Status.ACTIVE
    assert {status[scenario[name].pk] for name in ("entry", "partly", "covered", "strict")} == {"quebrado"}
    reasons = {pk: reason for pk, _s, reason in result["agreements"]}
    first = scenario["entry"].installments.get(number=0)
    assert reasons[scenario["entry"].pk] == (
        f"Entrada vencida em {first.due_date:%d/%m/%Y} sem pagamento além da tolerância de 5 dia(s); "
        "pago no acordo: R$ 0,00."
    )
    assert reasons[scenario["partly"].pk].startswith("Parcela 1 vencida em")
    assert reasons[scenario["partly"].pk].endswith("pago no acordo: R$ 60,55.")
    debts = {pk: (s, paid) for pk, s, paid in result["debts"]}
    oldest, newer = scenario["partly"].debts.order_by("due_date")
    assert debts[oldest.pk] == ("aberto", D("60.55")) and debts[newer.pk] == ("aberto", D("0.00"))
    clients = {pk: (s, balance) for pk, s, balance, _oldest in result["clients"]}
    assert clients[scenario["partly"].client_id] == ("em_aberto", D("139.45"))
    assert clients[scenario["covered"].client_id] == ("quitado", D("0.00"))
    assert clients[scenario["tolerated"].client_id][0] == "em_acordo"
    assert len(result["audit"]) == 4
    assert {changes["situação"][1] for *_rest, changes in result["audit"]} == {"Quebrado"}
    if len(results) == 2:
        assert results[1] == results[0]
