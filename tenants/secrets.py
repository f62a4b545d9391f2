"""Secrets at rest in tenant settings: Fernet with FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY may list several keys separated by commas: the first encrypts, all decrypt,
so a key can be rotated (see the README) without losing the stored tokens.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext as _

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


def clean_secret(result: dict, stored: dict, key: str, invalid, what: str = "o valor") -> str | None:
    """One secret key of a settings object being saved, in place: blank or masked keeps the stored secret (the form
    never shows it back), the stored ciphertext passes as is, plain text is checked by `invalid(text) -> message or
    ""` and encrypted. Returns the error message, or None."""
    value = result.get(key)
    if value in (None, "") or is_mask(value):
        if stored.get(key):
            result[key] = stored[key]
        else:
            result.pop(key, None)
    elif is_encrypted(value):
        if value != stored.get(key):
            return _("Cole %(what)s em texto; o valor criptografado não pode ser editado.") % {"what": what}
    elif not isinstance(value, str) or "\x00" in value:
        return invalid("") or _("Valor inválido.")
    elif message := invalid(value.strip()):
        return message
    else:
        result[key] = encrypt(value.strip())
    return None
