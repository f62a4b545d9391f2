"""Turning what people type or import into clean values, with pt-BR error messages."""

import datetime
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.br import cpf as stdnum_cpf

CENTS = Decimal("0.01")


def only_digits(value) -> str:
    return re.sub(r"\D", "", str(value or ""))


def strip_accents(value) -> str:
    """The text without its accents ("Não atende" -> "Nao atende"); every other character is kept."""
    decomposed = unicodedata.normalize("NFKD", str(value or ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_cpf(value) -> str:
    """11 digits with valid check digits, or ValidationError."""
    digits = only_digits(value)
    if len(digits) < 11 and digits and str(value).strip().isdigit():
        digits = digits.zfill(11)  # spreadsheets drop leading zeros
    if not digits:
        raise ValidationError(_("CPF não informado."))
    try:
        if len(set(digits)) == 1:  # 000.000.000-00 … 999.999.999-99 pass the arithmetic but are not CPFs
            raise ValueError(digits)
        return stdnum_cpf.validate(digits)
    except Exception:
        raise ValidationError(_("CPF inválido: %(cpf)s.") % {"cpf": value}) from None


def format_cpf(digits: str) -> str:
    return stdnum_cpf.format(digits) if digits and len(digits) == 11 else (digits or "")


def parse_phone(value) -> str:
    """E.164 (region BR) of a valid phone number, or ValidationError."""
    return parse_phone_and_kind(value)[0]


def parse_phone_and_kind(value) -> tuple[str, bool]:
    """(E.164, whether it is a mobile) of a valid phone number, parsed once; or ValidationError."""
    text = str(value or "").strip()
    if not text:
        raise ValidationError(_("Telefone não informado."))
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        raise ValidationError(_("Telefone inválido: %(phone)s.") % {"phone": text}) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Telefone inválido: %(phone)s.") % {"phone": text})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), _is_mobile(number)


def try_parse_phone(value) -> str | None:
    try:
        return parse_phone(value)
    except ValidationError:
        return None


def phone_is_mobile(e164: str) -> bool:
    return _is_mobile(phonenumbers.parse(e164, "BR"))


def _is_mobile(number) -> bool:
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def format_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "BR")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


MONEY_TEXT = re.compile(r"^\d+(?:[.,]\d+)?$")
GROUPED = {  # 1.234.567,89 and 1,234,567.89: the thousands separator, then the decimal one
    ".": re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$"),
    ",": re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$"),
}


def parse_decimal_text(text: str) -> Decimal:
    """A number typed in Brazil or abroad: 1.234,56, 1234,56, 1234.56 and 1,234.56 are all 1234.56.

    A single separator is the decimal one (1.234 is 1.234 and 1,5 is 1.5); grouped thousands must be
    well formed. Anything else raises ValueError rather than guessing.
    """
    text = str(text).strip().replace("R$", "").replace(" ", "").replace("\u00a0", "")
    sign = ""
    if text and text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    if MONEY_TEXT.match(text):
        normalized = text.replace(",", ".")
    elif GROUPED["."].match(text):
        normalized = text.replace(".", "").replace(",", ".")
    elif GROUPED[","].match(text):
        normalized = text.replace(",", "")
    else:
        raise ValueError(text)
    return Decimal(sign + normalized)


def parse_money(value, field_label: str = "valor") -> Decimal:
    """A non-negative amount in reais from '1.234,56', '1234.56', '1,234.56', 1234.5 or a Decimal.

    Typed text with more than two decimal places is refused, not rounded: '1,234' may be a thousand
    written abroad, and must not become R$ 1,23.
    """
    label = field_label.capitalize()
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float):
        amount = Decimal(str(value))
    else:
        text = str(value or "").strip()
        if not text:
            raise ValidationError(_("%(field)s não informado.") % {"field": label})
        try:
            amount = parse_decimal_text(text)
        except (ValueError, InvalidOperation):
            raise ValidationError(_("%(field)s inválido: %(value)s.") % {"field": label, "value": value}) from None
        if amount.is_finite() and amount.normalize().as_tuple().exponent < -2:
            raise ValidationError(
                _("%(field)s com mais de duas casas decimais: %(value)s (use 1.234,56).")
                % {"field": label, "value": value}
            )
    if not amount.is_finite():
        raise ValidationError(_("%(field)s inválido: %(value)s.") % {"field": label, "value": value})
    if amount < 0:
        raise ValidationError(_("%(field)s negativo: %(value)s.") % {"field": label, "value": value})
    if amount >= Decimal("10000000000"):
        raise ValidationError(_("%(field)s grande demais: %(value)s.") % {"field": label, "value": value})
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def parse_date(value, field_label: str = "data") -> datetime.date:
    """A date from dd/mm/aaaa, aaaa-mm-dd or a spreadsheet date."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValidationError(_("%(field)s não informada.") % {"field": field_label.capitalize()})
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError(
        _("%(field)s inválida: %(value)s (use dd/mm/aaaa).") % {"field": field_label.capitalize(), "value": text}
    )


def format_brl(amount) -> str:
    """R$ 1.234,56, whatever the active locale."""
    if amount is None:
        return ""
    plain = format_money_plain(amount)
    return f"-R$ {plain[1:]}" if plain.startswith("-") else f"R$ {plain}"


def format_money_plain(amount) -> str:
    """1.234,56: an amount as files and people in Brazil write it, without the currency."""
    amount = Decimal(amount).quantize(CENTS, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    integer, cents = f"{abs(amount):.2f}".split(".")
    integer = f"{int(integer):,}".replace(",", ".")
    return f"{sign}{integer},{cents}"
