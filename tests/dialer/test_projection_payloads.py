"""The projection's two builders of what it posts agree: PostgreSQL's (one statement marks the items SENT and builds
their mailing.json contacts and mailing/delete pairs) and the ORM's (SQLite, through contact_data), contact by
contact, for clients whose data needs escaping, on Noronha or with no known UF, with phones out of id order."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.models import Client, ClientPhone
from dialer import projection
from dialer.models import DialerExport, DialerExportItem

SENT, HELD = DialerExportItem.Status.SENT, DialerExportItem.Status.HELD


@pytest.fixture
def held_items(dialer_tenant, make_client):
    clients = [
        make_client(name='Zé "Aspas" \\ Barra\tTab', state="SP", city="São Paulo", phones=("+5511987650001",)),
        make_client(
            name="Ilhéu",
            state="PE",
            city="Fernando de Noronha",
            postal_code="53990-000",
            phones=("+5581987650002", "+5581987650003"),
        ),
        make_client(name="Sem UF", state="", phones=("+5511987650004",), debts=((Decimal("1234.5"), 10),)),
        make_client(name="Acreano 😀", state="AC", phones=("+5568987650005", "+5568987650006", "+5568987650007")),
        make_client(name="Sem telefone ativo", state="RJ", phones=("+5521987650008",)),
    ]
    # Dialling order is by priority, not by id: the last phone created goes first.
    ClientPhone.objects.filter(number="+5568987650007").update(priority=0)
    ClientPhone.objects.filter(number="+5521987650008").update(active=False)
    export = DialerExport.objects.create(tenant=dialer_tenant, campaign_id=1, list_name="Janela", list_id=7)
    items = [
        DialerExportItem.objects.create(
            tenant=dialer_tenant, export=export, client=c, campaign_id=1, status=HELD, phones=["11999999999"]
        )
        for c in clients
    ]
    return [(item.pk, item.client_id) for item in items], clients


def decoded(rows):
    return {
        (pk, client_id): (json.loads(f"[{contacts}]"), json.loads(f"[{pairs}]"))
        for pk, client_id, contacts, pairs in rows
    }


def marked():
    return dict(DialerExportItem.objects.filter(status=SENT).values_list("pk", "phones"))


def test_both_builders_post_the_same_contacts(held_items):
    rows, clients = held_items
    now = timezone.now()
    orm = decoded(projection._mark_sent_orm(rows, now))
    orm_marked = marked()
    # The client without an active phone stays HELD, off both results.
    assert len(orm) == len(clients) - 1
    assert DialerExportItem.objects.get(client=clients[-1]).status == HELD
    acre = next(contacts for (_pk, c), (contacts, _p) in orm.items() if c == clients[3].pk)
    assert [contact["phone"] for contact in acre] == ["68987650007", "68987650005", "68987650006"]
    noronha = next(contacts for (_pk, c), (contacts, _p) in orm.items() if c == clients[1].pk)
    assert {contact["data"]["fuso"] for contact in noronha} == {"America/Noronha"}
    if connection.vendor != "postgresql":
        return
    DialerExportItem.objects.update(status=HELD, phones=["11999999999"])
    assert decoded(projection._mark_sent_sql(rows, now + datetime.timedelta(seconds=1))) == orm
    assert marked() == orm_marked


def test_an_item_no_longer_held_is_neither_marked_nor_posted(held_items):
    rows, clients = held_items
    DialerExportItem.objects.filter(client=clients[0]).update(status=DialerExportItem.Status.SKIPPED)
    result = projection._mark_sent(rows, timezone.now())
    assert clients[0].pk not in {client_id for _pk, client_id, _c, _p in result}
    assert DialerExportItem.objects.get(client=clients[0]).status == DialerExportItem.Status.SKIPPED
    assert Client.objects.count() == len(clients)
