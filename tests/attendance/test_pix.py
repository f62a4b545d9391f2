import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from attendance import payments, pix
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from common.parsing import format_brl
from tenants.settings_schema import clean_settings

# The static example of the Banco Central's Manual do BR Code (Manual de Padrões para Iniciação do Pix).
MANUAL_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
MANUAL_RECEIVER = pix.PixReceiver(key="123e4567-e12b-12d1-a456-426655440000", name="Fulano de Tal", city="BRASILIA")
PIX_SETTINGS = {"pix_key": "12345678000195", "pix_nome_recebedor": "Agência Alfa", "pix_cidade_recebedor": "São Paulo"}


def test_crc16_of_the_manuals_example():
    assert pix.crc16(MANUAL_EXAMPLE[:-4]) == "1D3D"
    assert pix.crc16("123456789") == "29B1"  # the CRC-16/CCITT-FALSE check value


def test_the_manuals_example_is_rebuilt_field_by_field():
    assert pix.brcode(MANUAL_RECEIVER) == MANUAL_EXAMPLE


def test_an_installment_code_carries_amount_txid_and_a_valid_crc():
    code = pix.brcode(
        pix.PixReceiver("12345678000195", "Agência Alfa Cobranças Ltda ME", "São Paulo"), Decimal("1234.5"), "AC42P3"
    )
    fields = pix.parse(code)
    assert fields["00"] == "01"
    assert fields["26"] == "0014br.gov.bcb.pix011412345678000195"
    assert (fields["52"], fields["53"], fields["54"], fields["58"]) == ("0000", "986", "1234.50", "BR")
    assert fields["59"] == "Agencia Alfa Cobrancas Ltd"[:25]  # no accents, at most 25 characters
    assert fields["60"] == "Sao Paulo"
    assert fields["62"] == "0506AC42P3"
    assert fields["63"] == pix.crc16(code[:-4])
    assert "<svg" in pix.qr_svg(code)


def test_txid_must_be_alphanumeric():
    with pytest.raises(ValueError):
        pix.brcode(MANUAL_RECEIVER, Decimal("1"), "AC-1")


def test_settings_require_name_and_city_with_a_key():
    with pytest.raises(ValidationError) as error:
        clean_settings({"pix_key": "12345678000195"})
    assert set(error.value.message_dict) == {"pix_nome_recebedor", "pix_cidade_recebedor"}
    assert clean_settings(PIX_SETTINGS)["pix_key"] == "12345678000195"


@pytest.fixture
def agreement(tenant, operator, creditor, make_client):
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    tenant.settings = PIX_SETTINGS
    tenant.save()
    client = make_client(debts=((Decimal("300.00"), 40),))
    first_due = timezone.localdate() + datetime.timedelta(days=3)
    return create_agreement(tenant, operator, client, Proposal(installments=3, first_due_date=first_due))


def test_atendimento_page_offers_pix_for_open_installments_only(client, tenant, operator, agreement):
    first = agreement.installments.get(number=1)
    payments.post_payment(
        tenant, operator, payments.PaymentInput(first.amount, timezone.localdate(), "pix"), installment=first
    )
    client.force_login(operator)
    html = client.get(f"/atendimento/{agreement.client_id}/").content.decode()
    second = agreement.installments.get(number=2)
    code = pix.brcode(pix.receiver_for(tenant), second.amount, f"AC{agreement.pk}P2")
    assert code in html
    assert f"AC{agreement.pk}P1" not in html  # paid: no code
    assert 'data-testid="pix-3"' in html
    assert "Próxima: Parcela 2" in html


def test_agreement_admin_page_shows_the_code(client, supervisor, agreement):
    client.force_login(supervisor)
    html = client.get(f"/admin/attendance/agreement/{agreement.pk}/change/").content.decode()
    txid = f"AC{agreement.pk}P1"
    assert f"05{len(txid):02d}{txid}" in html
    assert "<svg" in html


def test_the_header_and_timeline_say_the_agreements_plan_in_words(client, operator, agreement):
    client.force_login(operator)
    html = client.get(f"/atendimento/{agreement.client_id}/").content.decode()
    plan = agreement.plan_display()
    assert plan.endswith(": 3 parcelas") and "entrada" not in plan  # no entry in this one
    assert f"Acordo #{agreement.pk} ativo: {plan}." in html and "parcela(s)" not in html
    assert f"Acordo #{agreement.pk} gerado — hoje ativo" in html
    # The agreement's installments still owe: "Em acordo (a pagar)" says how much, beside an "em aberto" of zero.
    owed = sum(i.amount - i.paid_amount for i in agreement.installments.all())
    assert f'id="figure-in-agreement">{format_brl(owed)}<' in html and "Títulos pagos" in html


def test_an_agreement_with_an_entry_says_so_and_its_approval_is_on_the_timeline(
    client, operator, supervisor, agreement
):
    from attendance.models import Agreement

    Agreement.objects.filter(pk=agreement.pk).update(
        entry_amount=Decimal("50.00"), decided_by=supervisor, decided_at=timezone.now(), decision_note="ok do gerente"
    )
    agreement.refresh_from_db()
    assert agreement.plan_display() == f"{format_brl(agreement.total)}: entrada de R$ 50,00 + 3 parcelas"
    client.force_login(operator)
    html = client.get(f"/atendimento/{agreement.client_id}/").content.decode()
    assert f"Acordo #{agreement.pk} aprovado" in html and "ok do gerente" in html
