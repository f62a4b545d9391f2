"""PIX "copia e cola": the static BR Code (EMV MPM, as the Banco Central's Manual do BR Code defines it).

Each field is ID (2 digits) + length (2 digits) + value; the last field (63) is the CRC16-CCITT-FALSE of the
whole payload including its own "6304" header. Static codes carry the amount and a txid the payer's bank
returns with the credit, so a payment can be matched to the installment it pays.
"""

import binascii
import dataclasses
import re
from decimal import Decimal

import segno

from common.parsing import strip_accents
from tenants import settings_schema

GUI = "br.gov.bcb.pix"
NO_TXID = "***"  # the manual's value for "no identifier"
TXID_RE = re.compile(r"^[A-Za-z0-9]{1,25}$")


@dataclasses.dataclass(frozen=True)
class PixReceiver:
    key: str
    name: str
    city: str


def crc16(payload: str) -> str:
    """CRC16-CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) as four upper-case hex digits."""
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"field {tag} longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def _plain(text: str, limit: int) -> str:
    """Accents removed (payers' apps differ in what they accept), trimmed to the field's limit."""
    ascii_text = strip_accents(text).encode("ascii", "ignore").decode()
    return " ".join(ascii_text.split())[:limit]


def brcode(receiver: PixReceiver, amount: Decimal | None = None, txid: str = NO_TXID) -> str:
    """The copia-e-cola text of a static PIX charge."""
    if txid != NO_TXID and not TXID_RE.match(txid):
        raise ValueError("txid: up to 25 letters and digits")
    account = _field("00", GUI) + _field("01", receiver.key.strip())
    payload = (
        _field("00", "01")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", f"{amount:.2f}") if amount is not None else "")
        + _field("58", "BR")
        + _field("59", _plain(receiver.name, 25))
        + _field("60", _plain(receiver.city, 15))
        + _field("62", _field("05", txid))
        + "6304"
    )
    return payload + crc16(payload)


def parse(payload: str) -> dict[str, str]:
    """The top-level fields of a BR Code, {id: value}; tests and support read codes with it."""
    fields, position = {}, 0
    while position < len(payload):
        tag, size = payload[position : position + 2], int(payload[position + 2 : position + 4])
        fields[tag] = payload[position + 4 : position + 4 + size]
        position += 4 + size
    return fields


def installment_txid(installment) -> str:
    """Names the installment: AC<agreement>P<number> (P0 is the entry)."""
    return f"AC{installment.agreement_id}P{installment.number}"


def qr_svg(payload: str) -> str:
    """The QR image as inline SVG (error correction M, as payers' apps read it on a screen)."""
    return segno.make(payload, error="m", micro=False).svg_inline(scale=4, border=2)


def receiver_for(tenant) -> PixReceiver | None:
    """The tenant's PIX receiver, or None while no PIX key is configured."""
    key = tenant.setting(settings_schema.PIX_KEY)
    if not key:
        return None
    return PixReceiver(
        key=key,
        name=tenant.setting(settings_schema.PIX_NAME, ""),
        city=tenant.setting(settings_schema.PIX_CITY, ""),
    )


@dataclasses.dataclass(frozen=True)
class InstallmentCharge:
    installment: object
    amount: Decimal
    code: str
    svg: str


def charges(tenant, installments) -> list[InstallmentCharge]:
    """A copia-e-cola code and QR image for each open installment (what is still open on it)."""
    receiver = receiver_for(tenant)
    if receiver is None:
        return []
    result = []
    for installment in installments:
        if installment.status != installment.Status.OPEN:
            continue
        code = brcode(receiver, installment.open_amount, installment_txid(installment))
        result.append(InstallmentCharge(installment, installment.open_amount, code, qr_svg(code)))
    return result
