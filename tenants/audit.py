"""The audit trail: one call per audited change, with the fields that changed (before and after).

Values are stored as text as the admin shows them; secrets only ever masked (settings pass through
tenants.settings_schema.masked before they get here).
"""

import datetime
import json
import re

from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.parsing import format_brl, format_money_plain
from tenants.models import AuditEvent

Action = AuditEvent.Action


def snapshot(instance, fields=None) -> dict:
    return model_to_dict(instance, fields=fields)


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed."""
    return {
        key: [_text(before.get(key)), _text(after.get(key))]
        for key in sorted(set(before) | set(after))
        if _text(before.get(key)) != _text(after.get(key))
    }


def record(tenant, user, action, obj=None, *, changes=None, object_repr="") -> AuditEvent:
    event = build(tenant, user, action, obj, changes=changes, object_repr=object_repr)
    event.save()
    return event


def build(tenant, user, action, obj=None, *, changes=None, object_repr="") -> AuditEvent:
    """An unsaved event, for jobs that write many at once with bulk_create."""
    return AuditEvent(
        tenant=tenant,
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.verbose_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        changes=changes or {},
    )


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_YES_NO = {"True": _("Sim"), "False": _("Não")}


def readable(changes: dict, labels: dict) -> list[tuple[str, str, str]]:
    """(label, before, after) as people read them: the stored text keeps field names and raw values, so
    events recorded before any label changed still read right."""
    rows = []
    for key, (before, after) in changes.items():
        label = str(labels.get(key, key))
        rows.append((label, readable_value(before, label), readable_value(after, label)))
    return rows


def readable_value(value, label: str = "") -> str:
    text = _text(value).strip()
    if not text:
        return ""
    if text in _YES_NO:
        return str(_YES_NO[text])
    if _DECIMAL.match(text):
        # Percentages and rates stay plain; every other decimal the trail records is money.
        return format_money_plain(text) if "%" in label else format_brl(text)
    if _DATE.match(text):
        return datetime.date.fromisoformat(text).strftime("%d/%m/%Y")
    if _DATETIME.match(text):
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return text
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.strftime("%d/%m/%Y %H:%M")
    if text[0] in "[{":
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return _json_text(parsed)
    return text


def _json_text(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_json_text(inner)}" for key, inner in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_json_text(inner) for inner in value)
    if isinstance(value, bool):
        return str(_YES_NO[str(value)])
    return readable_value(value) if value is not None else "—"
