"""Turning what people type or import into clean values, with pt-BR error messages."""

import datetime
import functools
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

CENTS = Decimal("0.01")

# What comes from outside (URLs, query strings, forms, headers, files, 3C Plus) is bounded here, once.
# str.isdigit() and int() accept "²", "①" and Arabic-Indic digits, and int() reads 5,000 digits: never use
# them on input; read numbers with parse_id / parse_int.
MAX_ID_DIGITS = 18  # every id fits a PostgreSQL bigint (9,223,372,036,854,775,807)
ASCII_INT = re.compile(rf"-?[0-9]{{1,{MAX_ID_DIGITS}}}")
# The dates this business can hold: nothing it stores happened before 1990 or is due after 2100. Python and
# PostgreSQL both represent years 1 and 9999, but a day added or a time zone crossed there overflows.
EARLIEST_DATE = datetime.date(1990, 1, 1)
LATEST_DATE = datetime.date(2099, 12, 31)
# The same window as a pair, for the checks that name both ends in their message.
DATE_WINDOW = (EARLIEST_DATE, LATEST_DATE)
# C0 control characters but tab, line feed and carriage return, DEL, the C1 controls and the two non-characters
# XML 1.0 forbids: PostgreSQL refuses NUL in text, XLSX (openpyxl's ILLEGAL_CHARACTERS_RE) the rest, and no
# person types them. Every reader and writer of outside text uses this one set.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def parse_int(value, *, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """The integer written in ASCII digits (a leading minus allowed, surrounding spaces ignored), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if len(str(abs(value))) <= max_digits else None
    text = str(value if value is not None else "").strip()
    if not ASCII_INT.fullmatch(text) or len(text.lstrip("-")) > max_digits:
        return None
    return int(text)


def parse_id(value) -> int | None:
    """A database id from outside: a positive integer in ASCII digits that fits a bigint, or None."""
    number = parse_int(value)
    return number if number is not None and number > 0 else None


def parse_ids(values) -> list[int] | None:
    """Every value an id, or None (one bad id refuses the lot: a form never sends one)."""
    ids = [parse_id(value) for value in values]
    return None if None in ids else ids


def in_date_window(value: datetime.date) -> bool:
    day = value.date() if isinstance(value, datetime.datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def clamp_datetime(value: datetime.datetime) -> datetime.datetime:
    """A moment read from another system, brought inside the window: a year-1 call sorts first, not a crash."""
    floor = datetime.datetime.combine(EARLIEST_DATE, datetime.time.min, tzinfo=datetime.UTC)
    ceiling = datetime.datetime.combine(LATEST_DATE, datetime.time.max, tzinfo=datetime.UTC)
    if value.tzinfo is None:
        floor, ceiling = floor.replace(tzinfo=None), ceiling.replace(tzinfo=None)
    return min(max(value, floor), ceiling)


def has_control_characters(value) -> bool:
    return bool(CONTROL_CHARACTERS.search(str(value or "")))


def clean_text(value, max_length: int | None = None) -> str:
    """Text from outside ready to store: control characters (NUL included) removed, cut to max_length."""
    text = CONTROL_CHARACTERS.sub("", str(value if value is not None else ""))
    return text[:max_length] if max_length is not None else text


NON_DIGITS = re.compile(r"\D")


def only_digits(value) -> str:
    return NON_DIGITS.sub("", str(value or ""))


def parse_ascii_int(text, max_digits: int) -> int | None:
    """A whole number of at most `max_digits` ASCII digits, never negative (a count, a parcela); None otherwise."""
    number = parse_int(text, max_digits=max_digits)
    return number if number is not None and number >= 0 else None


def check_date_window(value: datetime.date, field_label: str = "data") -> datetime.date:
    """`value` if it falls in DATE_WINDOW, else ValidationError naming the window."""
    first, last = DATE_WINDOW
    if not first <= value <= last:
        raise ValidationError(
            _("%(field)s fora do intervalo aceito (%(first)s a %(last)s).")
            % {"field": field_label.capitalize(), "first": f"{first:%d/%m/%Y}", "last": f"{last:%d/%m/%Y}"}
        )
    return value


def strip_accents(value) -> str:
    """The text without its accents ("Não atende" -> "Nao atende"); every other character is kept."""
    decomposed = unicodedata.normalize("NFKD", str(value or ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_cnpj(value) -> str:
    """A CNPJ with valid check digits, written 12.345.678/0001-95, or ValidationError."""
    digits = only_digits(value)
    if len(digits) < 14 and digits and str(value).strip().isdigit():
        digits = digits.zfill(14)  # spreadsheets drop leading zeros
    if len(digits) != 14 or not digits.isascii() or len(set(digits)) == 1 or not stdnum_cnpj.is_valid(digits):
        raise ValidationError(_("CNPJ inválido: %(cnpj)s.") % {"cnpj": value})
    return stdnum_cnpj.format(digits)


def parse_cpf(value) -> str:
    """11 digits with valid check digits, or ValidationError."""
    digits = only_digits(value)
    if len(digits) < 11 and digits and str(value).strip().isdigit():
        digits = digits.zfill(11)  # spreadsheets drop leading zeros
    if not digits:
        raise ValidationError(_("CPF não informado."))
    # 000.000.000-00 … 999.999.999-99 pass the arithmetic but are not CPFs.
    if len(digits) != 11 or not digits.isascii() or len(set(digits)) == 1 or cpf_check_digits(digits[:9]) != digits[9:]:
        raise ValidationError(_("CPF inválido: %(cpf)s.") % {"cpf": value})
    return digits


def cpf_check_digits(base: str) -> str:
    """The two check digits of a 9-digit CPF base (the Receita's rule, weights 10…2 then 11…3), spelled out:
    imports and fake wallets compute it for every row."""
    d = [ord(c) - 48 for c in base]
    total = d[0] + d[1] + d[2] + d[3] + d[4] + d[5] + d[6] + d[7] + d[8]
    weighted = 9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7] + d[8]
    first = (11 - weighted - total) % 11 % 10
    second = (11 - weighted - 2 * total - 2 * first) % 11 % 10
    return f"{first}{second}"


def format_cpf(digits: str) -> str:
    return stdnum_cpf.format(digits) if digits and len(digits) == 11 else (digits or "")


def parse_phone(value) -> str:
    """E.164 (region BR) of a valid phone number, or ValidationError."""
    return parse_phone_and_kind(value)[0]


# A Brazilian number as people type it: an area code and a number, maybe +55, with ( ) - . and spaces.
PLAIN_BR_PHONE = re.compile(r"(\+55)?[0-9 ().-]+")
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


@functools.lru_cache(maxsize=4096)  # a client with several títulos repeats its phones on each row
def parse_phone_and_kind(value) -> tuple[str, bool]:
    """(E.164, whether it is a mobile) of a valid phone number, parsed once; or ValidationError."""
    text = str(value or "").strip()
    if not text:
        raise ValidationError(_("Telefone não informado."))
    number = _plain_br_number(text)
    if number is None:
        try:
            number = phonenumbers.parse(text, "BR")
        except phonenumbers.NumberParseException:
            raise ValidationError(_("Telefone inválido: %(phone)s.") % {"phone": text}) from None
    kind = phonenumbers.number_type(number)  # UNKNOWN exactly when is_valid_number is false
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValidationError(_("Telefone inválido: %(phone)s.") % {"phone": text})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind in MOBILE_TYPES


def _plain_br_number(text: str):
    """The number phonenumbers.parse(text, "BR") would give, for the shapes it reads without ambiguity.

    Most phones in a wallet are "(11) 98765-4321" or "+55 11 98765-4321", and parse() spent most of an
    import's time on them. Anything it might read otherwise returns None, for parse() to decide: a national
    number starting with 0 or 90 (trunk and carrier prefixes) or, without +55, with 55 (the country code).
    """
    match = PLAIN_BR_PHONE.fullmatch(text)
    if match is None:
        return None
    national = re.sub(r"[^0-9]", "", text[match.end(1) :] if match.group(1) else text)
    if len(national) not in (10, 11) or national.startswith(("0", "90")):
        return None
    if not match.group(1) and national.startswith("55"):
        return None
    return phonenumbers.PhoneNumber(country_code=55, national_number=int(national))


def try_parse_phone(value) -> str | None:
    try:
        return parse_phone(value)
    except ValidationError:
        return None


def phone_is_mobile(e164: str) -> bool:
    return _is_mobile(phonenumbers.parse(e164, "BR"))


def _is_mobile(number) -> bool:
    return phonenumbers.number_type(number) in MOBILE_TYPES


def format_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "BR")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# ASCII digits only: Decimal() would read "١٠٠" as 100.
MONEY_TEXT = re.compile(r"^\d+(?:[.,]\d+)?$", re.ASCII)
GROUPED = {  # 1.234.567,89 and 1,234,567.89: the thousands separator, then the decimal one
    ".": re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$", re.ASCII),
    ",": re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$", re.ASCII),
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


BRAZILIAN_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def parse_date(value, field_label: str = "data") -> datetime.date:
    """A date from dd/mm/aaaa, aaaa-mm-dd or a spreadsheet date."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValidationError(_("%(field)s não informada.") % {"field": field_label.capitalize()})
    if not text.isascii():  # strptime reads other scripts' digits too
        raise ValidationError(
            _("%(field)s inválida: %(value)s (use dd/mm/aaaa).") % {"field": field_label.capitalize(), "value": text}
        )
    brazilian = BRAZILIAN_DATE.fullmatch(text)
    if brazilian:  # what strptime's %d/%m/%Y reads, without its cost on every row of an import
        try:
            return datetime.date(int(brazilian[3]), int(brazilian[2]), int(brazilian[1]))
        except ValueError:
            pass
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
