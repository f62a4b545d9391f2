"""The payment file's two dialects agree: COPY (PostgreSQL) and the ORM (SQLite) post the same título payments.

attendance.payments.post_debt_payments runs the COPY path on PostgreSQL and the ORM elsewhere, so a run on one
database proves only one of them. Both get the same rows here (a full payment, a partial one, two on one título
the second of which overpays, an overpayment accepted as credit, a título in an agreement, one already paid, a date
in the future) and on PostgreSQL what they stored is compared whole: payments, títulos, clients, audit events.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from attendance import payments
from attendance.models import Payment
from attendance.payments import PaymentInput
from core.models import Client, Debt
from tenants.models import AuditEvent

D = Decimal
YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


class Rollback(Exception):
    pass


@pytest.fixture
def wallet(make_client, monkeypatch):
    monkeypatch.setattr("core.hooks.stop_calling_hooks", lambda client, **_: None)
    whole = make_client(external_id="W", debts=((D("100.00"), 40),))
    parts = make_client(external_id="P", debts=((D("80.00"), 40), (D("20.00"), 10)))
    agreed = make_client(external_id="A", debts=((D("50.00"), 40),))
    Debt.objects.filter(client=agreed).update(status=Debt.Status.IN_AGREEMENT)
    paid = make_client(external_id="Q", debts=((D("30.00"), 40),))
    Debt.objects.filter(client=paid).update(status=Debt.Status.PAID, paid_amount=D("30.00"))
    return {c.external_id: list(c.debts.order_by("installment_number")) for c in (whole, parts, agreed, paid)}


def items(wallet):
    def pay(n, amount, debt, paid_on=YESTERDAY, credit=False):
        data = PaymentInput(D(amount), paid_on, "pix", f"ID{n}", credit, "", Payment.Source.IMPORT)
        return data, debt.pk

    w, (p1, p2), (a,), (q,) = wallet["W"][0], wallet["P"], wallet["A"], wallet["Q"]
    return [
        pay(1, "100.00", w),  # the client is quitado
        pay(2, "30.00", p1),
        pay(3, "60.00", p1),  # only 50.00 left: refused
        pay(4, "50.00", p1),
        pay(5, "25.00", p2, credit=True),  # 5.00 above: the client's credit
        pay(6, "10.00", a),  # in an agreement: refused
        pay(7, "10.00", q),  # already paid: refused
        pay(8, "1.00", p2, paid_on=timezone.localdate() + datetime.timedelta(days=2)),  # the future: refused
    ]


def stored(wallet) -> dict:
    ids = {p.pk: p.external_id for p in Payment.objects.all()}
    clients = [debts[0].client_id for debts in wallet.values()]
    return {
        "payments": sorted(
            Payment.objects.values_list(
                "external_id", "client_id", "debt_id", "paid_on", "amount", "credit_amount", "method", "source"
            )
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
            (ids[int(e.object_id)], e.object_type, e.object_repr, e.changes)
            for e in AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_POSTED)
        ),
    }


def test_the_copy_and_the_orm_payments_store_the_same(tenant, wallet):
    implementations = [payments._post_debt_payments_orm]
    if connection.vendor == "postgresql":
        implementations.append(payments._post_debt_payments_copy)
    results = []
    for implementation in implementations:
        try:
            with transaction.atomic():
                outcome = implementation(tenant, None, items(wallet))
                errors = {index: " ".join(error.messages) for index, error in outcome if error is not None}
                results.append((errors, stored(wallet)))
                raise Rollback
        except Rollback:
            pass
    errors, result = results[0]
    assert sorted(errors) == [2, 5, 6, 7]
    assert "maior que o saldo de R$ 50,00" in errors[2]
    assert "em acordo" in errors[5] and "está pago" in errors[6] and "futuro" in errors[7]
    assert [p[0] for p in result["payments"]] == ["ID1", "ID2", "ID4", "ID5"]
    credit = {p[0]: p[5] for p in result["payments"]}
    assert credit["ID5"] == D("5.00")
    clients = {pk: (status, balance) for pk, status, balance, _oldest in result["clients"]}
    assert clients[wallet["W"][0].client_id] == ("quitado", D("0.00"))
    assert clients[wallet["P"][0].client_id] == ("quitado", D("0.00"))  # 80 and 20 paid, 5 in credit
    assert clients[wallet["A"][0].client_id][0] == "em_aberto"
    assert len(result["audit"]) == 4
    audit = {row[0]: row for row in result["audit"]}
    assert audit["ID5"][3] == {
        "valor": ["", "25.00"],
        "data": ["", YESTERDAY.isoformat()],
        "crédito": ["", "5.00"],
        "origem": ["", "Arquivo"],
        "ID do pagamento": ["", "ID5"],
    }
    assert audit["ID1"][2] == f"Pagamento de R$ 100,00 em {YESTERDAY:%d/%m/%Y}"
    if len(results) == 2:
        assert results[1] == results[0]
