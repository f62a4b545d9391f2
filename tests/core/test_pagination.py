"""The Carteira's paginator: exact counts below the cap, honest labels above it, every real page served."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import pagination
from core.admin import ClientAdmin
from core.maintenance import refresh_wallet_statistics
from core.models import Client
from core.pagination import WalletPaginator, count_within
from core.seeding import seed_wallet

CHANGELIST = "/admin/core/client/"
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement_timeout")


@pytest.fixture
def small_pages(monkeypatch, settings):
    """60 clients, 5 a page, exact counts only up to 20 rows: the 1M situations at test size."""
    settings.WALLET_EXACT_COUNT_LIMIT = 20
    monkeypatch.setattr(ClientAdmin, "list_per_page", 5)


@pytest.fixture
def count_too_slow(monkeypatch):
    """The full count does not finish within its time budget."""
    monkeypatch.setattr(pagination, "count_within", lambda queryset, timeout_ms: None)


def page_links(html):
    return sorted({int(n) for n in re.findall(r'href="\?p=(\d+)"', html)})


def listed_ids(html):
    return [int(n) for n in re.findall(r'href="/atendimento/(\d+)/"', html)]


def test_exact_count_below_the_cap(client, tenant_admin, tenant, settings, make_client):
    settings.WALLET_EXACT_COUNT_LIMIT = 20
    for _ in range(15):
        make_client()
    client.force_login(tenant_admin)
    response = client.get(CHANGELIST)
    paginator = response.context["cl"].paginator
    assert paginator.count == 15 and paginator.count_is_exact
    assert '<span class="result-count">15</span>' in response.content.decode()


def test_above_the_cap_the_count_is_exact_when_cheap(client, tenant_admin, tenant, small_pages):
    seed_wallet(tenant, 60, seed=2)
    client.force_login(tenant_admin)
    response = client.get(CHANGELIST)
    cl = response.context["cl"]
    assert cl.result_count == 60 and cl.paginator.count_is_exact
    html = response.content.decode()
    assert '<span class="result-count">60</span>' in html
    assert page_links(html)[-1] == 12  # the last page, and nothing past it
    assert client.get(CHANGELIST, {"p": 12}).status_code == 200
    assert client.get(CHANGELIST, {"p": 13}).status_code == 302  # past the end: refused, as Django does


def test_above_the_cap_a_slow_count_is_labelled_not_guessed(client, tenant_admin, tenant, small_pages, count_too_slow):
    seed_wallet(tenant, 60, seed=2)
    client.force_login(tenant_admin)
    response = client.get(CHANGELIST)
    html = response.content.decode()
    assert not response.context["cl"].paginator.count_is_exact
    assert '<span class="result-count">mais de 20</span>' in html
    assert "Selecionar todos os clientes (mais de 20)" in html
    # The current page's neighbours, all known to exist (21 rows counted: pages 1–5), then an unlinked "…"
    # instead of a last page that may not exist.
    assert page_links(html) == [2, 3, 4]
    assert re.search(r"<span>…</span>\s*</div>\s*<div class=\"py-4\">", html)


@postgresql_only
def test_a_count_the_planner_prices_too_high_is_not_attempted(tenant, monkeypatch, settings):
    settings.WALLET_EXACT_COUNT_LIMIT = 20
    monkeypatch.setattr(WalletPaginator, "count_cost_limit", 0)
    attempted = []
    monkeypatch.setattr(pagination, "count_within", lambda queryset, timeout_ms: attempted.append(1))
    seed_wallet(tenant, 30, seed=9)
    paginator = WalletPaginator(Client.objects.filter(tenant=tenant).order_by("-id"), 5)
    assert paginator.count == 21 and not paginator.count_is_exact
    assert paginator.count_label == "mais de 20"
    assert attempted == []


def test_a_deep_page_past_the_known_count_is_served_when_it_has_rows(
    client, tenant_admin, tenant, small_pages, count_too_slow
):
    seed_wallet(tenant, 60, seed=2)
    newest_first = list(Client.objects.filter(tenant=tenant).order_by("-id").values_list("id", flat=True))
    client.force_login(tenant_admin)

    response = client.get(CHANGELIST, {"p": 10})  # beyond the 21 rows counted
    assert response.status_code == 200
    html = response.content.decode()
    assert listed_ids(html) == newest_first[45:50]
    assert 11 in page_links(html) and 12 not in page_links(html)  # the next page, not one past what is known
    assert '<span class="result-count">mais de 20</span>' in html

    last = client.get(CHANGELIST, {"p": 12})  # the real last page: now the count is known
    assert last.status_code == 200
    assert listed_ids(last.content.decode()) == newest_first[55:60]
    assert last.context["cl"].result_count == 60
    assert '<span class="result-count">60</span>' in last.content.decode()

    assert client.get(CHANGELIST, {"p": 13}).status_code == 302  # no rows there: not a page


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("ordering", [("-id",), ("name", "id"), ("-open_balance", "-id")])
def test_deep_pages_read_by_key_and_backwards_hold_the_same_rows(tenant, monkeypatch, settings, exact, ordering):
    settings.WALLET_EXACT_COUNT_LIMIT = 10
    monkeypatch.setattr(WalletPaginator, "deep_offset", 7)  # every page from the second on takes the deep path
    if not exact:
        monkeypatch.setattr(pagination, "count_within", lambda queryset, timeout_ms: None)
    seed_wallet(tenant, 53, seed=3)
    queryset = Client.objects.filter(tenant=tenant).order_by(*ordering)
    expected = list(queryset.values_list("id", flat=True))
    paginator = WalletPaginator(queryset, 7)
    for number in range(1, 9):
        page = paginator.page(number)
        assert [c.pk for c in page.object_list] == expected[(number - 1) * 7 : number * 7], number
    assert paginator.count == 53 and paginator.count_is_exact


def test_a_filter_matching_nothing_costs_no_listing_query(client, tenant_admin, tenant):
    seed_wallet(tenant, 30, seed=4)
    client.force_login(tenant_admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, {"status__exact": "pago"})
    assert response.status_code == 200 and response.context["cl"].result_count == 0
    listing = [q["sql"] for q in queries if 'FROM "core_client"' in q["sql"] and "ORDER BY" in q["sql"]]
    assert listing == []


def test_changelist_query_count_does_not_grow_with_the_wallet(
    client, tenant_admin, tenant, settings, django_assert_max_num_queries
):
    settings.WALLET_EXACT_COUNT_LIMIT = 20
    seed_wallet(tenant, 120, seed=5)
    client.force_login(tenant_admin)
    # session, user, membership, creditors (filter), capped count, the count's price (EXPLAIN), the timed
    # full count (5 with its savepoint), the page, permissions: the same for 120 clients as for a million.
    with django_assert_max_num_queries(14):
        assert client.get(CHANGELIST).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(CHANGELIST, {"p": 2}).status_code == 200


def test_sorting_breaks_ties_by_id_in_the_same_direction(client, tenant_admin, tenant):
    seed_wallet(tenant, 10, seed=6)
    client.force_login(tenant_admin)
    cl = client.get(CHANGELIST).context["cl"]
    name, creditor = cl.list_display.index("name"), cl.list_display.index("display_creditor")
    for params, order_by in (
        ({"o": f"{name}"}, '"core_client"."name" ASC, "core_client"."id" ASC'),
        ({"o": f"-{name}"}, '"core_client"."name" DESC, "core_client"."id" DESC'),
        ({"o": f"{creditor}"}, '"core_client"."creditor_id" ASC, "core_client"."id" ASC'),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CHANGELIST, params).status_code == 200
        assert any(f"ORDER BY {order_by}" in q["sql"] for q in queries), params


@postgresql_only
def test_count_within_gives_up_after_its_budget_and_leaves_the_transaction_usable(tenant):
    seed_wallet(tenant, 5, seed=7)

    def statement_timeout():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    before = statement_timeout()
    slow = Client.objects.filter(tenant=tenant).extra(where=["pg_sleep(0.05) IS NOT NULL"])
    assert count_within(slow, timeout_ms=20) is None
    assert Client.objects.filter(tenant=tenant).count() == 5  # the test's transaction goes on
    assert statement_timeout() == before
    assert count_within(Client.objects.filter(tenant=tenant), timeout_ms=500) == 5
    assert statement_timeout() == before  # the budget does not outlive the count


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_budget_and_the_count_are_one_statement(tenant):
    seed_wallet(tenant, 5, seed=8)
    slow = Client.objects.filter(tenant=tenant).extra(where=["pg_sleep(0.05) IS NOT NULL"])
    with CaptureQueriesContext(connection) as queries:
        assert count_within(slow, timeout_ms=20) is None
        assert count_within(Client.objects.filter(tenant=tenant), timeout_ms=500) == 5
    assert len(queries.captured_queries) == 2
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0", "the budget does not outlive its count"


@postgresql_only
def test_statistics_are_refreshed_after_a_large_write(tenant):
    seed_wallet(tenant, 40, seed=8)
    refresh_wallet_statistics()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Client._meta.db_table])
        assert cursor.fetchone()[0] == 40
