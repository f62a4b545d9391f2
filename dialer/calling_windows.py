"""A tenant's own calling windows per UF and its municipal holidays: saving them, with the audit trail.

A window tighter than the law is the agency's business; a wider one needs a written reason, and every change is in
the audit trail with the days it widens (dialer/calling_rules.py has the law)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common.parsing import CONTROL_CHARACTERS, check_date_window, parse_date
from core.importing import clean_cells
from dialer import calling_rules
from dialer.eligibility import DAY_KINDS, _windows_problem, wider_than_law
from dialer.models import CallingWindowOverride, MunicipalHoliday
from tenants import audit

AUDITED_FIELDS = ["state", "weekdays", "saturday", "sunday", "holidays", "reason"]


def window_errors(state: str, hours: dict, reason: str) -> dict[str, str]:
    """{field: message} for an override that cannot be saved: an unreadable window, or one wider than the law
    without a reason."""
    errors = {}
    for kind in DAY_KINDS:
        if _windows_problem(hours.get(kind, "")):
            errors[kind] = _(
                "Horário inválido: “%(value)s”. Use HH:MM-HH:MM com o início antes do fim (08:00-18:00), turnos "
                "separados por vírgula, ou vazio para não ligar nesse dia."
            ) % {"value": hours.get(kind, "")}
    if errors or not state:
        return errors
    wider = wider_than_law(state, hours)
    if wider and not (reason or "").strip():
        law = calling_rules.rule_for(state)
        errors["reason"] = _(
            "A janela de %(days)s é mais ampla que a lei de %(uf)s (%(source)s). Para ampliá-la, escreva o motivo: "
            "a alteração fica registrada na auditoria."
        ) % {"days": ", ".join(str(DAY_KINDS[kind]) for kind in wider), "uf": state, "source": law.source}
    return errors


def save_override(override: CallingWindowOverride, user, *, before: dict | None) -> CallingWindowOverride:
    """Saves the window and records it in the audit trail (with the widened days, if any)."""
    with transaction.atomic():
        override.updated_by = user if getattr(user, "is_authenticated", False) else None
        override.save()
        changes = audit.diff(before or {}, audit.snapshot(override, AUDITED_FIELDS))
        wider = wider_than_law(override.state, override.hours())
        if wider:
            changes[_("mais ampla que a lei em")] = ["", ", ".join(str(DAY_KINDS[kind]) for kind in wider)]
        audit.record(override.tenant, user, audit.Action.CALLING_WINDOW_CHANGED, override, changes=changes)
    return override


def delete_override(override: CallingWindowOverride, user) -> None:
    with transaction.atomic():
        changes = audit.diff(audit.snapshot(override, AUDITED_FIELDS), {})
        audit.record(override.tenant, user, audit.Action.CALLING_WINDOW_CHANGED, override, changes=changes)
        override.delete()


HOLIDAY_COLUMNS = ("uf", "cidade", "data", "feriado")


def parse_holiday_row(row: dict) -> dict:
    """{state, city, date, name} from an imported row, or ValidationError with every problem of the row."""
    errors = clean_cells(row)
    if errors:
        raise ValidationError(errors)
    state = str(row.get("uf") or "").strip().upper()
    city = " ".join(str(row.get("cidade") or "").split())
    name = " ".join(str(row.get("feriado") or "").split())
    if state not in calling_rules.ALL_UFS:
        errors.append(_("UF inválida: “%(uf)s”.") % {"uf": state[:10]})
    if not city or len(city) > 100 or CONTROL_CHARACTERS.search(city):
        errors.append(_("Informe a cidade (até 100 caracteres)."))
    if not name or len(name) > 100:
        errors.append(_("Informe o nome do feriado (até 100 caracteres)."))
    day = None
    try:
        day = check_date_window(parse_date(row.get("data")), "data")
    except ValidationError as error:
        errors.extend(error.messages)
    if errors:
        raise ValidationError(errors)
    return {"state": state, "city": city, "date": day, "name": name}


def holiday_exists(tenant, state: str, city: str, day, exclude_pk=None) -> bool:
    found = MunicipalHoliday.objects.filter(tenant=tenant, state=state, city_key=calling_rules.city_key(city), date=day)
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    return found.exists()
