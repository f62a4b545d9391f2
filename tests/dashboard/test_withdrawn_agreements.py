"""An agreement rejected or cancelled after its day was rolled up leaves the stored figures too: the panel never
counts it as a deal, whichever day it was made."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement
from attendance.negotiation import Proposal
from attendance.services import cancel_agreement, create_agreement, reject_agreement
from dashboard.models import AgreementRollup, RolledUpDay
from dashboard.rollups import day_bounds, ensure_rolled_up
from tests.dashboard.test_views import kpi

D = Decimal
pytestmark = pytest.mark.django_db


def made_yesterday(agreement):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(created_at=day_bounds(yesterday)[0] + datetime.timedelta(hours=11))
    agreement.refresh_from_db()
    return yesterday


@pytest.mark.parametrize("decision", ["reject", "cancel"])
def test_a_rolled_up_agreement_decided_later_leaves_the_stored_day(
    client, tenant, supervisor, operator, make_client, lenient, decision
):
    kept = create_agreement(tenant, operator, make_client(debts=((D("1000.00"), 30),)), Proposal(installments=1))
    first_due = timezone.localdate() + datetime.timedelta(days=3)
    later = create_agreement(
        tenant,
        operator,
        make_client(debts=((D("5783.50"), 30),)),
        Proposal(discount_percent=D("55"), first_due_date=first_due),
        justification="Só paga assim.",
    )
    yesterday = made_yesterday(kept)
    made_yesterday(later)
    assert ensure_rolled_up(tenant, yesterday, yesterday) == 1
    assert RolledUpDay.objects.filter(tenant=tenant, day=yesterday, until=None).exists()
    client.force_login(supervisor)
    html = client.get("/admin/", {"periodo": "7d"}).content.decode()
    assert kpi(html, "agreements") == "2"

    if decision == "reject":
        reject_agreement(tenant, supervisor, later, "Desconto fora da política.")
    else:
        cancel_agreement(tenant, supervisor, later, "Cliente desistiu.")
    stored = AgreementRollup.objects.filter(tenant=tenant, day=yesterday)
    assert sum(row.count for row in stored) == 1
    assert sum(row.amount for row in stored) == kept.total
    html = client.get("/admin/", {"periodo": "7d"}).content.decode()
    assert kpi(html, "agreements") == "1"
    brl = f"R$ {kept.total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert kpi(html, "agreements_amount") == brl
