"""What the fields of a PIX BR Code may hold (EMV QRCPS-MPM as the Banco Central's Manual de Padrões para
Iniciação do Pix profiles it): the tenant settings are checked with these rules when saved, and every code
is built with them again, so settings stored before the rules existed still give a valid code or none.

- The key (field 26, sub-field 01) is written as the DICT stores it: CPF or CNPJ as digits only, a phone as
  +55 followed by area code and number, an e-mail in lower case, a random key (EVP) as a lower-case UUID.
  Anything else is refused: the payer's bank looks the key up as written, and a misread key (a CPF with a
  typo taken for a phone) would send the money to someone else. An 11-digit number is a CPF; a phone is
  written with +55 or with its area code in parentheses, as the DICT itself tells the two apart.
- The merchant name (59, up to 25) and city (60, up to 15) are "ans" fields: printable ASCII, 0x20 to 0x7E.
  Accents are removed (what payers' apps show anyway). A character with no ASCII letter or sign behind it
  (an emoji, a zero-width space, a right-to-left override, a control character) is refused when the
  settings are saved, and dropped when a code is built from older settings.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.br import cnpj, cpf

from common.parsing import only_digits, parse_phone

KEY_MAX = 77  # field 26 holds at most 99: the GUI sub-field takes 18 and the key's own header 4
NAME_MAX = 25
CITY_MAX = 15

EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The DICT's pattern for e-mail keys (after lower-casing).
EMAIL = re.compile(
    r"[a-z0-9.!#$&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
# A CPF or CNPJ as people write it: 123.456.789-09, 12.345.678/0001-95, or just the digits.
TAX_ID_TYPED = re.compile(r"[0-9][0-9./ -]*")
KEY_FORMATS = "CPF ou CNPJ, telefone como +55DDNÚMERO, e-mail ou chave aleatória"

# Latin letters and typographic signs that Unicode does not decompose into ASCII.
ASCII_EQUIVALENTS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "−": "-",
    }
)


def normalize_key(value) -> str:
    """The PIX key in its DICT format, or ValidationError saying which formats are accepted."""
    text = str(value or "").strip()
    if not text:
        raise ValidationError(_("Informe a chave PIX."))
    if not (text.isascii() and text.isprintable()):
        raise ValidationError(
            _("A chave PIX tem caracteres que o PIX não aceita (acentos, invisíveis ou de controle): use %(f)s.")
            % {"f": KEY_FORMATS}
        )
    lowered = text.lower()
    if EVP.fullmatch(lowered):
        return lowered
    if "@" in text:
        if len(lowered) <= KEY_MAX and EMAIL.fullmatch(lowered):
            return lowered
        raise ValidationError(_("E-mail inválido como chave PIX (até %(n)s caracteres).") % {"n": KEY_MAX})
    if text.startswith("+") or "(" in text:
        try:
            phone = parse_phone(text)
        except ValidationError:
            raise ValidationError(_("Telefone inválido como chave PIX: use +55DDNÚMERO.")) from None
        if not phone.startswith("+55"):
            raise ValidationError(_("A chave PIX de telefone é um número do Brasil: +55DDNÚMERO."))
        return phone
    if TAX_ID_TYPED.fullmatch(text):
        digits = only_digits(text)
        if (len(digits) == 11 and cpf.is_valid(digits)) or (len(digits) == 14 and cnpj.is_valid(digits)):
            return digits
        raise ValidationError(
            _("CPF ou CNPJ inválido como chave PIX (confira os dígitos); um telefone se escreve +55DDNÚMERO.")
        )
    raise ValidationError(_("Chave PIX inválida: use %(f)s.") % {"f": KEY_FORMATS})


def _transliterated(value) -> str:
    """The text with its accents and typographic signs in ASCII; characters with no equivalent are kept."""
    decomposed = unicodedata.normalize("NFKD", str(value or "").translate(ASCII_EQUIVALENTS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _ascii_form(value) -> str:
    """Printable ASCII with single spaces: what has no ASCII equivalent is dropped (the result may be empty)."""
    text = "".join(" " if c.isspace() else c for c in _transliterated(value))
    return " ".join("".join(c for c in text if " " <= c <= "~").split())


def brcode_text(value, limit: int) -> str:
    """What a name or city field of the code holds: its ASCII form, at most `limit` characters; empty when no
    letter or digit is left, for the caller to refuse (a name of dots tells the payer nothing)."""
    text = _ascii_form(value)[:limit].rstrip()
    return text if any(c.isalnum() for c in text) else ""


def clean_text(value, limit: int, label: str) -> str:
    """The name or city as typed (accents kept, it is what people read), if its code form is complete and fits.

    ValidationError in Portuguese for a character the code cannot carry, for nothing left to show the payer,
    and for more than `limit` characters once accents are removed.
    """
    text = " ".join(str(value or "").split())
    refused = sorted({c for c in _transliterated(text) if not " " <= c <= "~"})
    if refused:
        shown = ", ".join(f"U+{ord(c):04X}" if not c.isprintable() else c for c in refused[:5])
        raise ValidationError(
            _("%(what)s tem caracteres que o PIX não aceita (%(chars)s): use letras, números e sinais comuns.")
            % {"what": label, "chars": shown}
        )
    code_form = _ascii_form(text)
    if not any(c.isalnum() for c in code_form):
        raise ValidationError(_("%(what)s precisa de letras ou números.") % {"what": label})
    if len(code_form) > limit:
        raise ValidationError(
            _("%(what)s tem %(n)s caracteres sem acentos; o PIX aceita no máximo %(max)s.")
            % {"what": label, "n": len(code_form), "max": limit}
        )
    return text
