"""The Carteira costs at most 8 queries per page: the session, the user with their membership, the creditor box, the
permissions, the rows, and the count (on PostgreSQL the planner's price first, then one count, under a statement
timeout when the selection is big): in a small wallet and past the exact-count limit."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.seeding import seed_wallet

CHANGELIST = "/admin/core/client/"
PAGES = ["", "?p=2", "?q=maria", "?o=-3", "?atraso=91_180", "?status__exact=quitado", "?o=5&p=2"]
MAX_QUERIES = 8


@pytest.mark.django_db(transaction=True)  # as a request runs: no test transaction around the count's own
@pytest.mark.parametrize("exact_limit", [10_000, 40], ids=["small-wallet", "past-the-exact-count"])
def test_every_carteira_page_costs_at_most_8_queries(client, tenant_admin, tenant, settings, exact_limit):
    settings.WALLET_EXACT_COUNT_LIMIT = exact_limit
    seed_wallet(tenant, 150, seed=2)
    client.force_login(tenant_admin)
    client.get(CHANGELIST)  # the session's first read stores what later pages reuse
    counts = {}
    for query in PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        counts[query] = len(queries.captured_queries)
        if exact_limit == 40 and query == "":
            assert "mais de" not in response.content.decode(), "150 clients, cheap to count: an exact count"
    assert max(counts.values()) <= MAX_QUERIES, counts
