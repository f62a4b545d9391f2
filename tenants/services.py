"""Tenant workflows with side effects: settings changes and webhook rotation (both audited), the role rule."""

from django.contrib.auth import get_user_model

from tenants import audit, secrets
from tenants.models import BACK_OFFICE_ROLES, Membership, Tenant, new_webhook_secret
from tenants.settings_schema import masked, secret_keys


def _audited(tenant: Tenant) -> dict:
    return {"nome": tenant.name, "ativa": tenant.active, **masked(tenant.stored_settings)}


def save_tenant(tenant: Tenant, user) -> Tenant:
    """Save a tenant whose settings clean_settings already validated; audit what changed, secrets masked."""
    before = _audited(Tenant.objects.get(pk=tenant.pk)) if tenant.pk is not None else {}
    tenant.save()
    changes = audit.diff(before, _audited(tenant))
    if changes:
        audit.record(tenant, user, audit.Action.SETTINGS_CHANGED, tenant, changes=changes)
    return tenant


def plaintext_secrets(tenant: Tenant) -> list[str]:
    """The tenant's credentials in clear (webhook secret, the settings' tokens), to hide wherever they appear in
    what is shown: never to be rendered themselves."""
    found = []
    for stored in (tenant.webhook_secret_encrypted, *(tenant.setting(key) for key in secret_keys())):
        try:
            found.append(secrets.decrypt(stored))
        except secrets.SecretError:  # not set, or not decryptable with this deployment's keys: nothing to hide
            continue
    return [secret for secret in found if len(secret) >= 8]  # a short value would hide ordinary words


def rotate_webhook_secret(tenant: Tenant, user) -> Tenant:
    """A new webhook address for the tenant; the old one stops working at once."""
    tenant.webhook_secret = new_webhook_secret()
    tenant.save(update_fields=["webhook_secret"])
    audit.record(tenant, user, audit.Action.WEBHOOK_ROTATED, tenant)
    return tenant


def sync_staff_flag(user) -> None:
    """Only back-office roles (and superusers) enter the admin; operators work on the atendimento pages."""
    membership = Membership.objects.filter(user=user).first()
    staff = user.is_superuser or (membership is not None and membership.role in BACK_OFFICE_ROLES)
    if user.is_staff != staff:
        get_user_model().objects.filter(pk=user.pk).update(is_staff=staff)
