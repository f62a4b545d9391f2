"""The tenant's settings object (tenants.settings): what any value must be to be stored, the keys tenants
itself knows (the PIX receiver's), and the sections other apps own.

An app that keeps keys here (the dialer: its 3C Plus connection) registers a SettingsSection from its
AppConfig.ready(): clean_settings runs its validation, masked() hides its secrets, and the tenant's admin
page shows its fields and tools. tenants never imports those apps.
"""

import contextlib
import contextvars
import math

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from common import pix_fields
from tenants import secrets

# PIX receiver of the "copia e cola" codes offered for agreement installments.
PIX_KEY = "pix_key"
PIX_NAME = "pix_nome_recebedor"
PIX_CITY = "pix_cidade_recebedor"


class SettingsSection:
    """The keys of the settings object one app owns, and its part of the tenant's admin page."""

    title = ""
    # Stored encrypted; shown only masked, kept when left blank or sent back masked.
    secret_keys: tuple[str, ...] = ()
    # The JSON editor's properties ({"type": ..., "title": ...}) per key; the titles also label the audit trail.
    schema: dict[str, dict] = {}

    def clean(self, result: dict, stored: dict) -> dict:
        """Normalize this section's keys of `result` in place; {key: message} for the invalid ones."""
        return {}

    def form_fields(self) -> dict:
        """{settings key: form field}: the keys the page edits as fields of their own (beside the JSON)."""
        return {}

    def fetch(self, tenant):
        """What this section's form needs from another system (3C Plus's campaigns), read before the admin opens
        its transaction: a network call inside it would hold the database (on SQLite, its write lock) for as long
        as the other system takes. prepare_form reads it back with fetched(self)."""
        return None

    def prepare_form(self, form, stored: dict) -> None:
        """Initial values (and help texts) of this section's fields; secrets never go back to the browser."""
        for key in form.fields.keys() & self.form_fields().keys():
            if key not in self.secret_keys:
                form.initial[key] = stored.get(key, "")

    def warnings(self, form, settings: dict) -> list[str]:
        """What the admin should know about the settings just saved, though they are valid (shown as warnings)."""
        return []

    def displays(self) -> tuple:
        """Read-only rows shown after the fields: admin display functions taking the tenant."""
        return ()

    def admin_urls(self, model_admin) -> list:
        """URL patterns added to the tenant admin (its permission checks are `model_admin`'s)."""
        return []


_sections: list[SettingsSection] = []
_fetched: contextvars.ContextVar[dict | None] = contextvars.ContextVar("settings_sections_fetched", default=None)
NOT_FETCHED = object()


@contextlib.contextmanager
def fetching(tenant):
    """Each section's fetch(tenant), run now (outside any transaction), for the forms built inside this block."""
    token = _fetched.set({type(section): section.fetch(tenant) for section in _sections})
    try:
        yield
    finally:
        _fetched.reset(token)


def fetched(section: SettingsSection):
    """What section.fetch read for the page being built, or NOT_FETCHED (a form built outside `fetching`)."""
    found = _fetched.get()
    return NOT_FETCHED if found is None else found.get(type(section), NOT_FETCHED)


def register_section(section: SettingsSection) -> SettingsSection:
    if all(type(registered) is not type(section) for registered in _sections):
        _sections.append(section)
    return section


def sections() -> tuple[SettingsSection, ...]:
    return tuple(_sections)


def secret_keys() -> tuple[str, ...]:
    return tuple(key for section in _sections for key in section.secret_keys)


def schema_properties() -> dict[str, dict]:
    return {key: spec for section in _sections for key, spec in section.schema.items()}


MAX_JSON_DEPTH = 16


def json_problem(value, depth: int = 0) -> str | None:
    """Why a JSON value cannot be stored (PostgreSQL refuses NaN and NUL; deep nesting is a trap), or None."""
    if depth > MAX_JSON_DEPTH:
        return _("O JSON tem mais de %(n)d níveis aninhados.") % {"n": MAX_JSON_DEPTH}
    if isinstance(value, float) and not math.isfinite(value):
        return _("O JSON tem um número inválido (NaN, Infinity ou grande demais).")
    if isinstance(value, str) and "\x00" in value:
        return _("O JSON tem um caractere nulo (\\u0000).")
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_problem(key, depth) or json_problem(item, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def clean_settings(new: dict, stored: dict | None = None) -> dict:
    """Validate a settings object: every registered section's keys, then the PIX receiver's.

    Raises ValidationError with one message per field.
    """
    if not isinstance(new, dict):
        raise ValidationError(_('As configurações devem ser um objeto JSON, por exemplo {"chave": "valor"}.'))
    problem = json_problem(new)
    if problem:
        raise ValidationError({"settings": problem})
    stored = stored or {}
    result = dict(new)
    errors = {}
    for section in _sections:
        errors.update(section.clean(result, stored))
    errors.update(_clean_pix(result))
    if errors:
        raise ValidationError(errors)
    return result


def _clean_pix(result: dict) -> dict:
    """Normalize the PIX keys in place (the key to its DICT format); {key: message} for the invalid ones.

    What is saved always makes a valid BR Code: the rules are common.pix_fields', which the codes are built with.
    """
    errors = {}
    for key in (PIX_KEY, PIX_NAME, PIX_CITY):
        value = result.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            result.pop(key, None)
    checks = (
        (PIX_KEY, pix_fields.normalize_key),
        (PIX_NAME, lambda v: pix_fields.clean_text(v, pix_fields.NAME_MAX, _("O nome do recebedor"))),
        (PIX_CITY, lambda v: pix_fields.clean_text(v, pix_fields.CITY_MAX, _("A cidade do recebedor"))),
    )
    for key, check in checks:
        if key not in result:
            continue
        if not isinstance(result[key], str):
            errors[key] = _("Informe como texto, entre aspas.")
            continue
        try:
            result[key] = check(result[key])
        except ValidationError as error:
            errors[key] = error.messages[0]
    if PIX_KEY in result:
        for key, label in ((PIX_NAME, _("o nome do recebedor")), (PIX_CITY, _("a cidade do recebedor"))):
            if key not in result and key not in errors:
                errors[key] = _("Com chave PIX, informe também %(what)s.") % {"what": label}
    return errors


def masked(settings: dict) -> dict:
    """The settings as they may be shown: every secret masked."""
    shown = dict(settings)
    for key in secret_keys():
        if shown.get(key):
            shown[key] = secrets.mask(shown[key])
    return shown
