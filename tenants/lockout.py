"""A user locked out by django-axes (too many wrong passwords or codes): seen and lifted by their tenant's admin
on the user's page, instead of waiting out AXES_COOLOFF_TIME or asking for a shell."""

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.utils import timezone

from tenants import audit
from tenants.models import AuditEvent
from tenants.roles import get_membership


def locked_attempts(user):
    """The addresses from which `user` is locked out now (each an AccessAttempt at the failure limit)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        username=user.get_username(), failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")


def unlock(user, by) -> bool:
    """Forget the user's failed attempts from every address (on the trail); False when none were recorded."""
    if not AccessAttempt.objects.filter(username=user.get_username()).exists():
        return False
    reset(username=user.get_username())
    membership = get_membership(user)
    if membership is not None:
        audit.record(membership.tenant, by, AuditEvent.Action.ACCESS_UNLOCKED, user)
    return True
