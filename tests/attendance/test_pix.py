import binascii
import datetime
import json
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from attendance import payments, pix
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from common.parsing import format_brl
from tenants.settings_schema import clean_settings, masked

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


# What a BR Code built from hostile settings must still be --------------------------------------------------

DICT_KEY = re.compile(
    r"[0-9]{11}|[0-9]{14}|\+55[0-9]{10,11}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[a-z0-9.!#$&'*+/=?^_`{|}~-]+@[a-z0-9.-]+"
)


def tlv(data: bytes) -> dict[str, bytes]:
    """ID, two ASCII digits of length, value: each length must be the value's byte count, to the last byte."""
    fields, position = {}, 0
    while position < len(data):
        tag, size = data[position : position + 2], data[position + 2 : position + 4]
        assert re.fullmatch(rb"[0-9]{2}", tag) and re.fullmatch(rb"[0-9]{2}", size), data[position:]
        value = data[position + 4 : position + 4 + int(size)]
        assert len(value) == int(size), f"field {tag} says {size} bytes, holds {len(value)}"
        fields[tag.decode()] = value
        position += 4 + int(size)
    assert position == len(data)
    return fields


def assert_valid_brcode(code: str) -> dict[str, bytes]:
    assert code.isascii() and code.isprintable(), repr(code)
    data = code.encode("ascii")
    fields = tlv(data)
    assert data[-8:-4] == b"6304"
    assert f"{binascii.crc_hqx(data[:-4], 0xFFFF):04X}".encode() == fields["63"], "the CRC verifies"
    account = tlv(fields["26"])
    assert account["00"] == b"br.gov.bcb.pix" and DICT_KEY.fullmatch(account["01"].decode())
    assert 0 < len(fields["59"]) <= 25 and 0 < len(fields["60"]) <= 15
    for text in (fields["59"], fields["60"]):
        assert text == text.strip() and re.search(rb"[A-Za-z0-9]", text)
    tlv(fields["62"])
    return fields


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("529.982.247-25", "52998224725"),
        ("12.345.678/0001-95", "12345678000195"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("(11) 98765-4321", "+5511987654321"),
        (" Financeiro@Alfa.COM.br ", "financeiro@alfa.com.br"),
        ("123E4567-E12B-12D1-A456-426655440000", "123e4567-e12b-12d1-a456-426655440000"),
    ],
)
def test_the_key_is_saved_in_its_dict_format(typed, stored):
    settings = clean_settings({**PIX_SETTINGS, "pix_key": typed})
    assert settings["pix_key"] == stored


@pytest.mark.parametrize(
    "key, fragment",
    [
        ("11987654321", "CPF ou CNPJ inválido"),  # not a CPF; as a phone it needs +55
        ("+1 650 253 0000", "número do Brasil"),
        ("financeiro@alfa.com\u200b", "não aceita"),
        ("529.982.247-2\uff15", "não aceita"),  # a full-width digit
        ("\u202e12345678000195", "não aceita"),
        ("a" * 71 + "@alfa.com", "E-mail inválido"),
        ("chave qualquer", "Chave PIX inválida"),
    ],
)
def test_a_key_in_no_dict_format_is_refused_in_portuguese(key, fragment):
    with pytest.raises(ValidationError) as error:
        clean_settings({**PIX_SETTINGS, "pix_key": key})
    assert fragment in error.value.message_dict["pix_key"][0]


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("pix_nome_recebedor", "\u202eAgência Alfa", "U+202E"),
        ("pix_nome_recebedor", "Alfa\u200b", "U+200B"),
        ("pix_nome_recebedor", "Alfa\x01", "U+0001"),
        ("pix_nome_recebedor", "北京收款", "não aceita"),
        ("pix_nome_recebedor", "\u0301\u0301", "precisa de letras ou números"),
        ("pix_nome_recebedor", "...", "precisa de letras ou números"),
        ("pix_nome_recebedor", "Agência Alfa Cobranças Ltda ME", "no máximo 25"),
        ("pix_cidade_recebedor", "São José dos Campos", "no máximo 15"),
        ("pix_cidade_recebedor", "   ", "informe também a cidade"),
    ],
)
def test_a_name_or_city_the_code_cannot_carry_is_refused_in_portuguese(field, value, fragment):
    with pytest.raises(ValidationError) as error:
        clean_settings({**PIX_SETTINGS, field: value})
    assert fragment in error.value.message_dict[field][0]


def test_accents_are_kept_in_the_settings_and_removed_in_the_code():
    settings = clean_settings({**PIX_SETTINGS, "pix_nome_recebedor": "  Øster   Straße Cobrança "})
    assert settings["pix_nome_recebedor"] == "Øster Straße Cobrança"
    receiver = pix.PixReceiver(settings["pix_key"], settings["pix_nome_recebedor"], "São Paulo")
    fields = assert_valid_brcode(pix.brcode(receiver, Decimal("10"), "AC1P1"))
    assert (fields["59"], fields["60"]) == (b"Oster Strasse Cobranca", b"Sao Paulo")


def test_the_tenant_page_refuses_hostile_pix_settings_and_saves_good_ones(client, tenant_admin, tenant):
    from tests.tenants.test_settings import change_url, form_data

    client.force_login(tenant_admin)
    hostile = {"pix_key": "12345678000195\u200b", "pix_nome_recebedor": "\u202eAlfa", "pix_cidade_recebedor": "\u200b"}
    response = client.post(change_url(tenant), form_data(tenant, settings=json.dumps(hostile)))
    assert response.status_code == 200
    html = response.content.decode()
    assert "A chave PIX tem caracteres que o PIX não aceita" in html and "U+202E" in html
    tenant.refresh_from_db()
    assert "pix_key" not in tenant.settings

    good = {"pix_key": "12.345.678/0001-95", "pix_nome_recebedor": "Agência Alfa", "pix_cidade_recebedor": "Recife"}
    response = client.post(change_url(tenant), form_data(tenant, settings=json.dumps(good)))
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant.refresh_from_db()
    assert masked(tenant.settings)["pix_key"] == "12345678000195"


def test_settings_stored_before_the_rules_offer_no_code_instead_of_a_broken_one(client, supervisor, agreement):
    tenant = agreement.tenant
    type(tenant).objects.filter(pk=tenant.pk).update(
        settings={"pix_key": "12345678000195", "pix_nome_recebedor": "\u200b\u202e", "pix_cidade_recebedor": "Recife"}
    )
    client.force_login(supervisor)
    response = client.get(f"/admin/attendance/agreement/{agreement.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "br.gov.bcb.pix" not in html and "Configure a chave PIX da empresa" in html


GOOD_KEYS = [
    "529.982.247-25",
    "12345678000195",
    "+55 11 98765-4321",
    "financeiro@alfa.com.br",
    "123e4567-e12b-12d1-a456-426655440000",
]
HOSTILE = "\u200b\u200e\u200f\u202a\u202e\u2066\ufeff\x00\x01\x0b\x7f\u0301é\u00a0\u2028北😀Ø"
noise = st.text(alphabet=st.sampled_from(HOSTILE), max_size=3) | st.text(max_size=3)
keys = (
    st.text(max_size=90)
    | st.sampled_from(GOOD_KEYS)
    | st.tuples(st.sampled_from(GOOD_KEYS), noise, st.integers(0, 40)).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :])
)
texts = (
    st.text(max_size=40)
    | st.text(alphabet=st.sampled_from(HOSTILE + "Agência Alfa São Paulo"), max_size=30)
    | st.sampled_from(["Agência Alfa", "São Paulo", "ﬁnanceira", "Ｒｅｃｉｆｅ", "Straße", "   "])
)
PROPERTY = hypothesis_settings(max_examples=300, deadline=None)


@PROPERTY
@given(key=keys, name=texts, city=texts)
def test_any_receiver_gives_a_valid_code_or_none(key, name, city):
    """Whatever the key, name and city hold, the code is printable ASCII, each length is its value's byte count
    and the CRC verifies; or there is no code (ValueError), never a broken one."""
    try:
        code = pix.brcode(pix.PixReceiver(key, name, city), Decimal("123.45"), "AC7P1")
    except ValueError:
        return
    assert_valid_brcode(code)


@PROPERTY
@given(key=keys, name=texts, city=texts)
def test_settings_that_save_always_give_a_valid_code(key, name, city):
    try:
        settings = clean_settings({"pix_key": key, "pix_nome_recebedor": name, "pix_cidade_recebedor": city})
    except ValidationError as error:
        assert all(message[0].isupper() for message in error.messages)
        return
    if "pix_key" not in settings:
        return  # no PIX offered
    receiver = pix.PixReceiver(settings["pix_key"], settings["pix_nome_recebedor"], settings["pix_cidade_recebedor"])
    assert_valid_brcode(pix.brcode(receiver, Decimal("0.01"), "AC7P1"))
