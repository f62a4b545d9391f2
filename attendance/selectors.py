"""Reads of the atendimento page that several places share."""

from django.db.models import Prefetch
from django.utils import timezone

from attendance import pix
from attendance.models import Agreement, AgreementInstallment

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
        "pix_configured": pix.receiver_for(tenant) is not None,
        "past_agreements": [
            {"agreement": a, "paid": sum((i.paid_amount for i in a.installments.all()), 0)} for a in past
        ],
    }
