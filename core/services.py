"""Wallet workflows with side effects: creditor rules (audited), a client's figures, "não ligar" for a client or
one of its phones."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import hooks
from core.models import Client, ClientPhone, Creditor, DoNotCallReason, phone_deactivation_for
from tenants import audit
from tenants.models import AuditEvent


def save_creditor(creditor: Creditor, user, fields) -> Creditor:
    """Save a creditor and its negotiation rules; audit the `fields` that changed, as stored."""
    created = creditor.pk is None
    before = {} if created else audit.snapshot(Creditor.objects.get(pk=creditor.pk), fields)
    creditor.save()
    changes = audit.diff(before, audit.snapshot(Creditor.objects.get(pk=creditor.pk), fields))
    if changes:
        action = audit.Action.CREDITOR_CREATED if created else audit.Action.CREDITOR_CHANGED
        audit.record(creditor.tenant, user, action, creditor, changes=changes)
    return creditor


def save_client(client: Client, user=None, *, do_not_call_was: str | None = None) -> Client:
    """Save a client edited by hand. When its "não ligar" was changed, `do_not_call_was` is the reason it was changed
    from: the plain save keeps that one, and the new mark goes through set_do_not_call or clear_do_not_call (who,
    when, audit, removal from the dialer)."""
    if do_not_call_was is None:
        client.save()
        return client
    reason = client.do_not_call_reason
    client.do_not_call_reason = do_not_call_was
    client.save()
    if reason:
        return set_do_not_call(client, reason, user)
    return clear_do_not_call(client, user)


def refresh_client(client: Client) -> None:
    """The maintained columns (balance, oldest due date, main phone) and the situation, after a hand edit."""
    Client.objects.filter(pk=client.pk).refresh_summaries()
    Client.objects.filter(pk=client.pk).refresh_situation()


def stop_calling(client, *, phones=None, reason: str = "", user=None) -> None:
    """After the current transaction commits, every registered hook hears that these contacts are off limits."""
    transaction.on_commit(lambda: hooks.stop_calling_hooks(client, phones=phones, reason=reason, user=user))


def stop_calling_clients(clients, *, reason: str = "", user=None) -> None:
    """stop_calling for many whole clients (a payment file, the daily breakage): after the commit, each hook hears
    them in one call when it has a batch variant, one by one otherwise."""
    clients = list(clients)
    if not clients:
        return

    def run():
        registry = hooks.stop_calling_hooks
        many = getattr(registry, "many", None)
        if many is not None:
            many(clients, phones=None, reason=reason, user=user)
        else:  # a plain callable in its place (a test's stand-in)
            for client in clients:
                registry(client, phones=None, reason=reason, user=user)

    transaction.on_commit(run)


def set_do_not_call(client: Client, reason: str, user=None) -> Client:
    """Mark the client "não ligar" (who and when are kept), audit it and take it out of the dialer."""
    reason = DoNotCallReason(reason)
    with transaction.atomic():
        before = client.get_do_not_call_reason_display() if client.do_not_call_reason else ""
        Client.objects.filter(pk=client.pk).update(
            do_not_call_reason=reason, do_not_call_at=timezone.now(), do_not_call_by=_user(user)
        )
        client.refresh_from_db(fields=["do_not_call_reason", "do_not_call_at", "do_not_call_by"])
        audit.record(
            client.tenant, user, audit.Action.DO_NOT_CALL, client, changes={_("não ligar"): [before, str(reason.label)]}
        )
        stop_calling(client, reason=reason, user=user)
    return client


def mark_do_not_call(tenant, marked: list[tuple[int, str]], user=None) -> int:
    """The import's "nao_ligar" column: [(client id, reason)]; clients already marked keep their mark."""
    now = timezone.now()
    by_reason: dict[str, list[int]] = {}
    for client_id, reason in marked:
        by_reason.setdefault(DoNotCallReason(reason), []).append(client_id)
    changed = []
    with transaction.atomic():
        for reason, ids in by_reason.items():
            fresh = Client.objects.filter(tenant=tenant, pk__in=ids, do_not_call_reason="")
            picked = list(fresh.values_list("pk", flat=True))
            fresh.filter(pk__in=picked).update(
                do_not_call_reason=reason, do_not_call_at=now, do_not_call_by=_user(user)
            )
            changed.extend((pk, reason) for pk in picked)
        clients = Client.objects.in_bulk([pk for pk, _reason in changed])
        AuditEvent.objects.bulk_create(
            audit.build(
                tenant,
                user,
                audit.Action.DO_NOT_CALL,
                clients[pk],
                changes={_("não ligar"): ["", str(DoNotCallReason(reason).label)]},
                object_repr=clients[pk].name,
            )
            for pk, reason in changed
        )
        for pk, reason in changed:
            stop_calling(clients[pk], reason=reason, user=user)
    return len(changed)


def clear_do_not_call(client: Client, user=None) -> Client:
    """The client may be called again (e.g. the mark was a mistake); audited like the mark."""
    if not client.do_not_call_reason:
        return client
    with transaction.atomic():
        before = client.get_do_not_call_reason_display()
        Client.objects.filter(pk=client.pk).update(do_not_call_reason="", do_not_call_at=None, do_not_call_by=None)
        client.refresh_from_db(fields=["do_not_call_reason", "do_not_call_at", "do_not_call_by"])
        audit.record(client.tenant, user, audit.Action.DO_NOT_CALL, client, changes={_("não ligar"): [before, ""]})
    return client


def set_phone_do_not_call(phone: ClientPhone, reason: str, user=None) -> ClientPhone:
    """Mark one phone "não ligar" (a wrong number included): it is deactivated and leaves the dialer lists."""
    reason = DoNotCallReason(reason)
    with transaction.atomic():
        before = phone.get_do_not_call_reason_display() if phone.do_not_call_reason else ""
        ClientPhone.objects.filter(pk=phone.pk).update(
            do_not_call_reason=reason,
            do_not_call_at=timezone.now(),
            do_not_call_by=_user(user),
            active=False,
            deactivation_reason=phone_deactivation_for(reason),
        )
        phone.refresh_from_db()
        Client.objects.filter(pk=phone.client_id).refresh_summaries()
        audit.record(
            phone.tenant,
            user,
            audit.Action.DO_NOT_CALL,
            phone,
            changes={_("não ligar"): [before, str(reason.label)]},
            object_repr=f"{phone.client.name}: {phone.formatted}",
        )
        stop_calling(phone.client, phones=[phone.number], reason=reason, user=user)
    return phone


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None
