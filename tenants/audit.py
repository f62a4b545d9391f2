"""The audit trail: one call per audited change, with the fields that changed (before and after).

Values are stored as text as the admin shows them; secrets only ever masked (settings pass through
tenants.settings_schema.masked before they get here).
"""

from django.forms.models import model_to_dict

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
