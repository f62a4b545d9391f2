"""Presence's round for thousands of streams: the same answer from the one-statement check (PostgreSQL) as from the
ORM's, in a number of statements that does not grow with the streams; and a waiter whose timeout is a timer tells a
timeout from a wake-up."""

import asyncio
import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance import presence
from dialer import live
from tenants.models import Membership, Role, Tenant
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def access_of(user, agent_id: str) -> presence.Access:
    Membership.objects.filter(user=user).update(threecplus_agent_id=agent_id)
    store = SessionStore()
    store["x"] = 1
    store.create()
    membership = Membership.objects.get(user=user)
    return presence.Access(
        session_key=store.session_key,
        password=user.password,
        user_id=user.pk,
        membership_id=membership.pk,
        tenant_id=membership.tenant_id,
        agent_id=agent_id,
    )


REVOCATIONS = {
    "sessão encerrada": lambda user, access: Session.objects.filter(session_key=access.session_key).delete(),
    "sessão expirada": lambda user, access: Session.objects.filter(session_key=access.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    ),
    "senha trocada": lambda user, access: (user.set_password("outra-senha-456"), user.save()),
    "usuário desativado": lambda user, access: type(user).objects.filter(pk=user.pk).update(is_active=False),
    "usuário excluído": lambda user, access: user.delete(),
    "vínculo removido": lambda user, access: Membership.objects.filter(user=user).delete(),
    "ID do agente trocado": lambda user, access: Membership.objects.filter(user=user).update(
        threecplus_agent_id="2999"
    ),
    "empresa desativada": lambda user, access: Tenant.objects.filter(pk=access.tenant_id).update(active=False),
}


def test_the_round_ends_exactly_the_revoked_accesses(tenant, other_tenant):
    """Each way of losing access ends its stream and no other: the other tenant's operators (a tenant deactivated
    ends only its own) and an operator whose access stands all go on."""
    revoked = {}
    for n, case in enumerate(REVOCATIONS):
        home = other_tenant if case == "empresa desativada" else tenant
        user = make_user(home, Role.OPERATOR, f"op{n}")
        revoked[case] = (user, access_of(user, f"200{n}"))
    kept = [access_of(make_user(tenant, Role.OPERATOR, f"fica{n}"), f"300{n}") for n in range(3)]
    everyone = [access for _user, access in revoked.values()] + kept
    assert presence.revoked(everyone) == []
    for case, (user, access) in revoked.items():
        REVOCATIONS[case](user, access)
    gone = presence.revoked(everyone)
    assert sorted(map(id, gone)) == sorted(id(access) for _user, access in revoked.values())
    # The one-access check (a call arriving between two rounds) says the same of each.
    assert [presence.allowed(access) for access in everyone] == [access in kept for access in everyone]


def test_a_round_is_a_few_statements_whatever_the_number_of_streams(tenant):
    accesses = [access_of(make_user(tenant, Role.OPERATOR, f"op{n}"), f"40{n:02}") for n in range(40)]
    ids = [access.membership_id for access in accesses]
    statements = {}
    for count in (1, 40):
        with CaptureQueriesContext(connection) as queries:
            assert presence.touch_and_check(ids[:count], accesses[:count]) == []
        statements[count] = len(queries)
        if connection.vendor == "postgresql":  # one parameter per list, not a placeholder per stream
            assert not any(" IN (" in query["sql"] for query in queries)
    # The write and the check; elsewhere (the ORM's check) the sessions are a statement of their own.
    assert statements == dict.fromkeys((1, 40), 2 if connection.vendor == "postgresql" else 3)
    seen = Membership.objects.filter(pk__in=ids).values_list("console_seen_at", flat=True)
    assert None not in seen


def test_a_waiter_tells_a_timeout_from_a_wake_up():
    async def scenario():
        waiter = live.Waiter()
        timed_out = await waiter.wait(0.01)
        waiter.wake()  # before the wait: kept for it
        early = await waiter.wait(30)
        asyncio.get_running_loop().call_soon(waiter.tell, {"cliente": 1, "tipo": "vista"})
        told = await waiter.wait(30)
        again = await waiter.wait(0.01)  # the note was taken with the last wake-up: nothing new since
        return timed_out, early, told, again, waiter.take_calls(), waiter.take_notes()

    timed_out, early, told, again, calls, notes = asyncio.run(scenario())
    assert (timed_out, early, told, again) == (False, True, True, False)
    assert calls is True and notes == [{"cliente": 1, "tipo": "vista"}]
