"""CNAB 240 retorno de cobrança (FEBRABAN layout, segments T and U): the boletos the bank says were paid.

No maintained Python library reads the retorno (the packages on PyPI write remessas, are abandoned since 2019-2022,
or are bank-specific), so this is a bounded parser of the positions the layout fixes:
- every record is 240 ASCII characters; record type at 8 (0 header, 1 lot header, 3 detail, 5/9 trailers);
- detail segment (position 14) T: movement code 16-17, nosso número 38-57, vencimento 74-81, valor 82-96;
- the segment U that follows it: valor pago 78-92, data da ocorrência 138-145, data do crédito 146-153.
Movement codes of a liquidação: 06 (liquidação) and 17 (liquidação após baixa). A bad record is reported with its
line number and skipped; nothing else of the file is lost.
"""

import dataclasses
import datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from common.parsing import in_date_window

MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 100_000
LIQUIDATIONS = {"06", "17"}


@dataclasses.dataclass(frozen=True)
class PaidBoleto:
    bank_number: str
    amount: Decimal
    paid_on: datetime.date
    line: int


@dataclasses.dataclass
class Retorno:
    payments: list[PaidBoleto] = dataclasses.field(default_factory=list)
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _date(text: str) -> datetime.date | None:
    if not (text.isascii() and text.isdigit()) or text == "00000000":
        return None
    try:
        day = datetime.date(int(text[4:8]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        return None
    return day if in_date_window(day) else None


def _money(text: str) -> Decimal | None:
    if not (text.isascii() and text.isdigit()):
        return None
    return Decimal(int(text)) / 100


def parse_retorno(content: bytes) -> Retorno:
    result = Retorno()
    if len(content) > MAX_BYTES:
        result.errors.append((0, _("Arquivo grande demais (máximo de 10 MB).")))
        return result
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        result.errors.append((0, _("O arquivo não é texto ASCII: não é um retorno CNAB 240.")))
        return result
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        result.errors.append((0, _("Linhas demais.")))
        return result
    if not lines or len(lines[0]) != 240 or lines[0][7] != "0":
        result.errors.append((1, _("A primeira linha não é o header de arquivo de um CNAB 240.")))
        return result
    pending_t: tuple[int, str, str] | None = None  # (line, movement, nosso número)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(line) != 240 or "\x00" in line:
            result.errors.append((number, _("Registro sem 240 caracteres.")))
            pending_t = None
            continue
        if line[7] != "3":
            continue
        segment = line[13]
        if segment == "T":
            pending_t = (number, line[15:17], line[37:57].strip())
        elif segment == "U":
            if pending_t is None:
                result.errors.append((number, _("Segmento U sem o segmento T antes dele.")))
                continue
            t_line, movement, bank_number = pending_t
            pending_t = None
            if movement not in LIQUIDATIONS:
                continue
            amount, paid_on = _money(line[77:92]), _date(line[137:145])
            if not bank_number or not bank_number.isalnum() or not bank_number.isascii():
                result.errors.append((t_line, _("Nosso número vazio ou inválido.")))
            elif amount is None or amount <= 0:
                result.errors.append((number, _("Valor pago inválido.")))
            elif paid_on is None:
                result.errors.append((number, _("Data da ocorrência inválida.")))
            else:
                result.payments.append(PaidBoleto(bank_number.lstrip("0") or "0", amount, paid_on, t_line))
    return result
