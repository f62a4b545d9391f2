"""Transitional: dialer/webhooks.py and dialer/sandbox/views.py, being reworked on another branch, still import
`try_parse_phone` from here. The helper lives in common.parsing; repoint those two imports and delete this file."""

from common.parsing import try_parse_phone

__all__ = ["try_parse_phone"]
