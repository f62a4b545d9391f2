"""Reads of the atendimento page that several places share."""

import datetime
from decimal import Decimal

from django.db.models import Prefetch, Sum
from django.utils import timezone

from attendance import pix
from attendance.models import Agreement, AgreementInstallment, CallDisposition, Payment

PAST_AGREEMENTS = 5


def agreement_panel(tenant, client, open_agreement=None) -> dict:
    """The client's open agreement with its installments, next installment and PIX codes, and its last ended ones."""
    today = timezone.localdate()
    installments = list(open_agreement.installments.all()) if open_agreement else []
    next_installment = next((i for i in installments if i.status == AgreementInstallment.Status.OPEN), None)
    payable = open_agreement is not None and open_agreement.status == Agreement.Status.ACTIVE
    charges = {c.installment.pk: c for c in pix.charges(tenant, installments)} if payable else {}
    past = list(
        Agreement.objects.filter(client=client)
        .exclude(status__in=Agreement.OPEN_STATUSES)
        .prefetch_related(Prefetch("installments", queryset=AgreementInstallment.objects.order_by("number")))
        .order_by("-created_at")[:PAST_AGREEMENTS]
    )
    return {
        "agreement_installments": [
            {
                "installment": i,
                "situation": i.situation(today),
                "overdue": i.is_overdue(today),
                "pix": charges.get(i.pk),
            }
            for i in installments
        ],
        "next_installment": next_installment,
        "next_installment_overdue": bool(next_installment and next_installment.is_overdue(today)),
        "pix_configured": bool(charges) or pix.receiver_for(tenant) is not None,
        "past_agreements": [
            {"agreement": a, "paid": sum((i.paid_amount for i in a.installments.all()), 0)} for a in past
        ],
    }


HISTORY_SIZE = 5
DECISIONS_DAYS = 7


def client_history(client, *, exclude_agreement=None) -> dict:
    """What a supervisor weighs before deciding an agreement: the client's last tabulações, agreements and payments,
    and what was paid in all."""
    agreements = Agreement.objects.filter(client=client).select_related("operator")
    if exclude_agreement is not None:
        agreements = agreements.exclude(pk=exclude_agreement.pk)
    return {
        "dispositions": list(
            CallDisposition.objects.filter(client=client)
            .select_related("type", "operator")
            .order_by("-created_at", "-id")[:HISTORY_SIZE]
        ),
        "agreements": list(agreements.order_by("-created_at", "-id")[:HISTORY_SIZE]),
        "payments": list(
            Payment.objects.filter(client=client)
            .select_related("installment")
            .order_by("-paid_on", "-id")[:HISTORY_SIZE]
        ),
        "paid": paid_total(client),
    }


def agreement_paid(client_ids) -> dict[int, Decimal]:
    """{client id: what was paid on its agreements' installments}. A broken agreement's payments already went to
    its títulos (their paid amount), so they are left out here to count once."""
    rows = (
        AgreementInstallment.objects.filter(agreement__client_id__in=client_ids, paid_amount__gt=0)
        .exclude(agreement__status=Agreement.Status.BROKEN)
        .values("agreement__client_id")
        .annotate(total=Sum("paid_amount"))
        .order_by()
    )
    return {row["agreement__client_id"]: row["total"] for row in rows}


def paid_total(client, debts=None) -> Decimal:
    """Pago: what the client paid on its títulos and through its agreements."""
    debts = client.debts.all() if debts is None else debts
    on_debts = sum((d.paid_amount for d in debts), Decimal("0"))
    return on_debts + agreement_paid([client.pk]).get(client.pk, Decimal("0"))


def recent_decisions(tenant, operator, now=None) -> list[Agreement]:
    """The operator's agreements a supervisor decided in the last days, newest first: the console tells them."""
    since = (now or timezone.now()) - datetime.timedelta(days=DECISIONS_DAYS)
    return list(
        Agreement.objects.filter(tenant=tenant, operator=operator, decided_at__gte=since)
        .select_related("client", "decided_by")
        .order_by("-decided_at", "-id")[:20]
    )
