import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from common.parsing import format_brl, format_cpf, parse_cpf, parse_date, parse_money, parse_phone


@pytest.mark.parametrize("typed", ["529.982.247-25", "52998224725", " 529 982 247 25 "])
def test_cpf_is_stored_as_eleven_digits(typed):
    assert parse_cpf(typed) == "52998224725"
    assert format_cpf("52998224725") == "529.982.247-25"


@pytest.mark.parametrize("typed", ["529.982.247-24", "111.111.111-11", "123", ""])
def test_cpf_with_wrong_check_digits_is_refused(typed):
    with pytest.raises(ValidationError):
        parse_cpf(typed)


def test_cpf_lost_leading_zero_in_a_spreadsheet_is_recovered():
    assert parse_cpf("1234567890") == "01234567890"


@pytest.mark.parametrize(
    "typed", ["(11) 98765-4321", "11987654321", "+55 11 98765-4321", "011 98765 4321", "5511987654321"]
)
def test_phones_in_common_formats_become_e164(typed):
    assert parse_phone(typed) == "+5511987654321"


@pytest.mark.parametrize("typed", ["123", "abc", "(11) 1234", ""])
def test_invalid_phones_are_refused(typed):
    with pytest.raises(ValidationError):
        parse_phone(typed)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234.567,8", "1234567.80"),
        ("1,234,567.89", "1234567.89"),
        ("R$ 10,5", "10.50"),
        (12.345, "12.35"),
        ("0", "0.00"),
    ],
)
def test_money_parsing(typed, amount):
    assert parse_money(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["-10", "dez reais", "", "NaN", "Infinity", "1,234", "1.234", "1,23456", "1.23.4"])
def test_bad_money_is_refused(typed):
    with pytest.raises(ValidationError):
        parse_money(typed)


def test_dates_in_brazilian_and_iso_forms():
    assert parse_date("31/12/2025") == datetime.date(2025, 12, 31)
    assert parse_date("2025-12-31") == datetime.date(2025, 12, 31)
    with pytest.raises(ValidationError):
        parse_date("31/02/2025")


def test_money_display_is_brazilian():
    assert format_brl(Decimal("1234.56")) == "R$ 1.234,56"
    assert format_brl(Decimal("1234567.5")) == "R$ 1.234.567,50"
    assert format_brl(Decimal("0")) == "R$ 0,00"
