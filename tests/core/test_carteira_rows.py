"""The Carteira draws its rows in one pass (core/templatetags/wallet_list.py) and they come out as unfold's own result
list draws them: the same table, cell for cell, on every kind of page (filtered, sorted, searched, a later page), for
every situação badge, "não ligar", a client without a phone and a name that needs escaping."""

import re
from decimal import Decimal

import pytest
from django.test.html import parse_html
from unfold.templatetags import unfold_list

from core.admin import ClientAdmin
from core.models import Client, ClientStatus, DoNotCallReason
from core.templatetags import wallet_list

CHANGELIST = "/admin/core/client/"
PAGES = ["", "?p=2", "?o=-4", "?o=2.-5", "?status__exact=em_aberto", "?q=Cliente", "?atraso=1_30&p=1", "?uf=SP"]
TABLE = re.compile(r'<table id="result_list".*?</table>', re.DOTALL)


@pytest.fixture
def wallet(make_client):
    """55 clients (two pages): each situação, each "não ligar" reason, one without a phone, one with markup."""
    statuses = list(ClientStatus.values)
    reasons = ["", *DoNotCallReason.values]
    for n in range(55):
        client = make_client(
            phones=() if n == 3 else ("+5511987654321", "+551133334444")[n % 2 :],
            debts=((Decimal("100.50") * (n + 1), n * 7),),
            state="SP" if n % 3 else "RJ",
            **({"name": 'Ana <b>"Lima"</b> & Cia'} if n == 7 else {}),
        )
        Client.objects.filter(pk=client.pk).update(
            status=statuses[n % len(statuses)], do_not_call_reason=reasons[n % len(reasons)]
        )


def unfold_table(client, url, monkeypatch):
    """The page's table as unfold's own code draws it (the one-pass drawer turned off)."""

    def off(cl):
        raise wallet_list.Fallback

    with monkeypatch.context() as patch:
        patch.setattr(wallet_list, "row_drawer", off)
        return TABLE.search(client.get(url).content.decode()).group(0)


def one_pass_table(client, url, monkeypatch):
    """The page's table as the Carteira draws it, with unfold's per-cell code made to fail if it is reached."""

    def unreachable(*args, **kwargs):
        raise AssertionError("unfold's items_for_result drew a Carteira row")

    with monkeypatch.context() as patch:
        patch.setattr(unfold_list, "items_for_result", unreachable)
        response = client.get(url)
    assert response.status_code == 200, url
    return TABLE.search(response.content.decode()).group(0)


@pytest.mark.django_db
@pytest.mark.parametrize("query", PAGES)
def test_the_rows_drawn_in_one_pass_are_unfolds_rows(client, tenant_admin, wallet, monkeypatch, query):
    client.force_login(tenant_admin)
    mine = one_pass_table(client, CHANGELIST + query, monkeypatch)
    theirs = unfold_table(client, CHANGELIST + query, monkeypatch)
    assert mine.count('class="data-row') == theirs.count('class="data-row')
    assert parse_html(mine) == parse_html(theirs)


@pytest.mark.django_db
def test_the_page_shows_every_kind_of_cell(client, tenant_admin, wallet, monkeypatch):
    """What the comparison above covered: the table has the cells it is meant to compare, escaped."""
    client.force_login(tenant_admin)
    table = one_pass_table(client, CHANGELIST + "?o=1", monkeypatch)  # by name: the escaped one comes first
    assert table.count('class="data-row') == 50
    assert "Ana &lt;b&gt;&quot;Lima&quot;&lt;/b&gt; &amp; Cia" in table
    assert "<b>" not in table
    assert 'name="_selected_action"' in table
    assert "/change/?_changelist_filters=o%3D1" in table  # the sort kept by the link to the client
    assert "Não ligar: Óbito" in table
    assert "(11) 98765-4321" in table and "(11) 3333-4444" in table
    badges = ClientAdmin.display_status.label  # a status missing there shows its raw value, as in unfold
    for status in ClientStatus:
        assert str(status.label if status in badges else status.value) in table, status


@pytest.mark.django_db
def test_a_popup_changelist_falls_back_to_unfolds_rows(client, tenant_admin, wallet):
    """A page the one-pass drawer does not know (a popup picking a client) is drawn by unfold, and still works."""
    client.force_login(tenant_admin)
    response = client.get(CHANGELIST + "?_popup=1")
    assert response.status_code == 200
    assert "data-popup-opener" in response.content.decode()
