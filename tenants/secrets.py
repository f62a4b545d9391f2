"""Secrets at rest in tenant settings: Fernet with FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY may list several keys separated by commas: the first encrypts, all decrypt,
so a key can be rotated (see the README) without losing the stored tokens.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

PREFIX = "fernet:"
MASK = "••••"


class SecretError(Exception):
    """A stored secret that this deployment's keys cannot decrypt."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(plaintext: str) -> str:
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not is_encrypted(stored):
        raise SecretError("valor não criptografado")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretError("não foi possível descriptografar o token com FIELD_ENCRYPTION_KEY") from None


def rotate(stored: str) -> str:
    """Re-encrypt with the first key (after a new key was put in front)."""
    return PREFIX + _fernet().rotate(stored[len(PREFIX) :].encode()).decode()


def is_encrypted(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def mask(stored: str | None) -> str:
    """••••a1b2: enough to recognise a token, never enough to use it."""
    if not stored:
        return ""
    try:
        plaintext = decrypt(stored)
    except SecretError:
        return MASK
    return MASK + plaintext[-4:] if len(plaintext) > 8 else MASK


def is_mask(value) -> bool:
    return isinstance(value, str) and value.startswith(MASK)
