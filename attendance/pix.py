"""PIX "copia e cola": the static BR Code (EMV MPM, as the Banco Central's Manual do BR Code defines it).

Each field is ID (2 digits) + length (2 digits) + value; the last field (63) is the CRC16-CCITT-FALSE of the
whole payload including its own "6304" header. Every value is ASCII (common.pix_fields keeps it so), and the
lengths and the CRC are both counted on the ASCII bytes. Static codes carry the amount and a txid the payer's
bank returns with the credit, so a payment can be matched to the installment it pays.
"""

import binascii
import dataclasses
import logging
import re
from decimal import Decimal

import segno
from django.core.exceptions import ValidationError

from common import pix_fields
from core import hooks
from tenants import settings_schema

logger = logging.getLogger(__name__)

GUI = "br.gov.bcb.pix"
NO_TXID = "***"  # the manual's value for "no identifier"
TXID_RE = re.compile(r"[A-Za-z0-9]{1,25}")
AMOUNT_MAX_LENGTH = 13  # field 54


@dataclasses.dataclass(frozen=True)
class PixReceiver:
    key: str
    name: str
    city: str


def crc16(payload: str) -> str:
    """CRC16-CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) as four upper-case hex digits."""
    return f"{binascii.crc_hqx(payload.encode('ascii'), 0xFFFF):04X}"


def _field(tag: str, value: str) -> str:
    """ID, length and value; a value that is not printable ASCII never reaches a code (UnicodeEncodeError)."""
    size = len(value.encode("ascii"))
    if not value.isprintable() or not 0 < size <= 99:
        raise ValueError(f"field {tag}: 1 to 99 printable ASCII characters")
    return f"{tag}{size:02d}{value}"


def brcode(receiver: PixReceiver, amount: Decimal | None = None, txid: str = NO_TXID) -> str:
    """The copia-e-cola text of a static PIX charge; ValueError when a field cannot be written as the BR Code
    requires (settings saved before the rules, or a receiver built by hand)."""
    if txid != NO_TXID and not TXID_RE.fullmatch(txid):
        raise ValueError("txid: up to 25 letters and digits")
    amount_text = f"{amount:.2f}" if amount is not None else ""
    if amount is not None and (amount <= 0 or len(amount_text) > AMOUNT_MAX_LENGTH):
        raise ValueError("amount: more than zero, at most 13 characters")
    try:
        key = pix_fields.normalize_key(receiver.key)
    except ValidationError as error:
        raise ValueError("key: not in a DICT format") from error
    account = _field("00", GUI) + _field("01", key)
    payload = (
        _field("00", "01")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", amount_text) if amount is not None else "")
        + _field("58", "BR")
        + _field("59", pix_fields.brcode_text(receiver.name, pix_fields.NAME_MAX))
        + _field("60", pix_fields.brcode_text(receiver.city, pix_fields.CITY_MAX))
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
    """The tenant's PIX receiver, or None while no PIX key is configured or what is stored cannot make a
    valid code (saved before the BR Code rules were checked): no code at all rather than one that misleads."""
    key = tenant.setting(settings_schema.PIX_KEY)
    if not key:
        return None
    receiver = PixReceiver(
        key=str(key),
        name=str(tenant.setting(settings_schema.PIX_NAME, "")),
        city=str(tenant.setting(settings_schema.PIX_CITY, "")),
    )
    try:
        brcode(receiver)
    except ValueError:
        logger.warning("PIX settings of tenant %s cannot make a BR Code; no PIX is offered", tenant.pk)
        return None
    return receiver


@dataclasses.dataclass(frozen=True)
class InstallmentCharge:
    installment: object
    amount: Decimal
    code: str
    svg: str
    boleto_line: str = ""
    dynamic: bool = False  # a charge a payments provider holds (with due date), not the static code


def provider_charges(tenant, installments) -> dict:
    """{installment id: {"code", "amount", "boleto_line"}} from the payments providers registered in core.hooks."""
    found = {}
    for source in hooks.installment_charges:
        found.update(source(tenant, installments) or {})
    return found


def charges(tenant, installments) -> list[InstallmentCharge]:
    """A copia-e-cola code and QR image for each open installment: the provider's charge where one exists,
    else the static code on what is still open (the fallback when no provider is configured)."""
    installments = [i for i in installments if i.status == i.Status.OPEN]
    dynamic = provider_charges(tenant, installments) if installments else {}
    receiver = receiver_for(tenant) if len(dynamic) < len(installments) else None
    result = []
    for installment in installments:
        charge = dynamic.get(installment.pk)
        if charge and (charge.get("code") or charge.get("boleto_line")):
            code = charge.get("code") or ""
            result.append(
                InstallmentCharge(
                    installment,
                    charge.get("amount") or installment.open_amount,
                    code,
                    qr_svg(code) if code else "",
                    charge.get("boleto_line") or "",
                    True,
                )
            )
        elif receiver is not None:
            code = brcode(receiver, installment.open_amount, installment_txid(installment))
            result.append(InstallmentCharge(installment, installment.open_amount, code, qr_svg(code)))
    return result
