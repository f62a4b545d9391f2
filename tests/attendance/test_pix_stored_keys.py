"""A PIX key stored as typed, before keys were normalised on save, still gives codes with the key in its DICT
format: the payer's bank looks "52998224725" up, never "529.982.247-25"."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.negotiation import Proposal
from attendance.services import create_agreement
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "stored, written",
    [
        ("529.982.247-25", "52998224725"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("PIX@Alfa.com.br", "pix@alfa.com.br"),
    ],
)
def test_the_agreement_page_writes_a_stored_key_in_its_dict_format(
    client, tenant, operator, supervisor, creditor, make_client, stored, written
):
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    debtor = make_client(debts=((Decimal("300.00"), 40),))
    first_due = timezone.localdate() + datetime.timedelta(days=3)
    agreement = create_agreement(tenant, operator, debtor, Proposal(installments=2, first_due_date=first_due))
    Tenant.objects.filter(pk=tenant.pk).update(
        settings={"pix_key": stored, "pix_nome_recebedor": "Alfa", "pix_cidade_recebedor": "Recife"}
    )
    client.force_login(supervisor)
    html = client.get(f"/admin/attendance/agreement/{agreement.pk}/change/").content.decode()
    assert f"0014br.gov.bcb.pix01{len(written):02d}{written}" in html
    assert stored not in html
