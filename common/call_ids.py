"""3C Plus call ids: the only shape one may have before it is stored, put in a link or sent back to 3C Plus."""

import re

# Opaque ASCII tokens in every shape 3C Plus sends: digits (telephony ids such as 1700000000.12345),
# call:{company}:{campaign}:{telephony_id} (call-was-connected), the 24-hex ids of call histories. Nothing else
# (a control character, a space, markup, a formula, another parameter) reaches the access log, a spreadsheet,
# a URL we build or the qualify endpoint.
CALL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,119}")


def is_call_id(value) -> bool:
    return isinstance(value, str) and CALL_ID_RE.fullmatch(value) is not None


def call_id_or_blank(value) -> str:
    """The call id when it has a 3C Plus shape, else "" (a page opened outside a call)."""
    return value if is_call_id(value) else ""
