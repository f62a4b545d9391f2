"""Wallet workflows with side effects: creditor rules (audited), a client's figures, "não ligar" for a client or
one of its phones."""

import dataclasses
from collections.abc import Callable, Iterator

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Client, ClientPhone, Creditor, DoNotCallReason, phone_deactivation_for
from tenants import audit
from tenants.models import AuditEvent


class Hooks:
    """Functions other apps register here, so that core can call into them without importing them."""

    def __init__(self):
        self._hooks: list[Callable[..., None]] = []

    def register(self, hook):
        if hook not in self._hooks:
            self._hooks.append(hook)
        return hook

    def __call__(self, *args, **kwargs) -> None:
        for hook in list(self._hooks):
            hook(*args, **kwargs)


# (client, phones=None | [E.164], reason, user): these contacts must not be called any more. The dialer
# registers its removal from the 3C Plus lists.
stop_calling_hooks = Hooks()
on_stop_calling = stop_calling_hooks.register

# (tenant, client, behavior, *, call_id, agent_id, note, at): a call was qualified inside the dialer, not on
# our page. The atendimento registers the tabulação it records.
call_qualified = Hooks()

# (tenant, client, *, call_id, at): a call qualified inside the dialer with a "retornar" qualification asks for a
# callback. The atendimento registers the callback it schedules.
callback_requested = Hooks()


class Port:
    """One function an app provides from its ready() (the dialer), for an app that must not import it (the
    atendimento): the atendimento and the dialer both build on the wallet and never on each other."""

    def __init__(self, name: str):
        self.name = name
        self._function: Callable | None = None

    def provide(self, function):
        self._function = function
        return function

    def __call__(self, *args, **kwargs):
        if self._function is None:
            raise ImproperlyConfigured(f"Nenhum app fornece {self.name}.")
        return self._function(*args, **kwargs)


class CallNotQualified(Exception):
    """The dialer could not take a tabulação as the call's qualification; `message` says why (pt-BR)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class ConnectedCall:
    """A dialer call connected to an operator: what the console needs to open the client's page."""

    id: int  # increasing: the console asks for calls after the last id it saw
    call_id: str
    phone: str  # as people read it
    client: Client | None


@dataclasses.dataclass(frozen=True)
class CallOnLine:
    """The dialer call a client's page was opened for: the number on the line, and whether it is still going."""

    phone: str  # as people read it
    live: bool  # connected and not yet over (3C Plus has not sent its history)


class RecordingUnavailable(Exception):
    """The dialer has the call's recording but could not give it now; `message` says why (pt-BR)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class CallRecording:
    """A call's recording as the dialer streams it: 200 or 206 (a byte range), the player's headers, the bytes."""

    call_id: str
    status: int
    headers: dict
    chunks: Iterator[bytes]  # iterate once, to the end or close() it: it holds the connection to the dialer


# (tenant) -> bool: the tenant's tabulações of dialer calls are sent back as the calls' qualifications.
writes_qualifications = Port("writes_qualifications")
# (tenant, *, call_id, behavior, agent_id, note, callback_at, phone): send a tabulação as the call's
# qualification; raises CallNotQualified.
qualify_call = Port("qualify_call")
# (tenant, agent_id) -> int: the id of the newest call connected to the agent, 0 if none.
last_connected_call = Port("last_connected_call")
# (tenant, agent_id, after: int) -> ConnectedCall | None: the oldest call connected to the agent after `after`
# (within the last ATTENDANCE_CALL_REPLAY_MINUTES): read again with its id for the next.
next_connected_call = Port("next_connected_call")
# (tenant, call_id) -> [call ids]: every id stored for the same 3C Plus call (connected event, history, GET /calls
# report), the connected event's first when known. One tabulação per call is checked against all of them.
same_call_ids = Port("same_call_ids")
# (tenant, call_id) -> CallOnLine | None: the connected call with that id, None when the dialer never saw it.
call_on_line = Port("call_on_line")


# (tenant, client, call: int, range_header: str) -> CallRecording | None: the recording of one of the client's calls
# (the timeline's id of the call), None when there is none; raises RecordingUnavailable.
call_recording = Port("call_recording")
# () -> bool: the dialer can wake a waiting console when a call connects (PostgreSQL), so it need not poll.
connected_calls_pushed = Port("connected_calls_pushed")
# (tenant_id, agent_id) -> a context manager giving a waiter: `await waiter.wait(timeout)` is True when a call may
# have connected to the agent since the last wait (read it with next_connected_call), False after `timeout`
# seconds. Enter it before the first read: nothing connected after that read goes unnoticed.
connected_call_waiter = Port("connected_call_waiter")
# (tenant, call_id) -> list[core.timeline.Entry]: what the dialer recorded of one call (connected, ended, its
# recording), oldest first; empty when it knows nothing of that id.
call_entries = Port("call_entries")


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
    transaction.on_commit(lambda: stop_calling_hooks(client, phones=phones, reason=reason, user=user))


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
