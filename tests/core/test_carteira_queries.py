"""The Carteira costs at most 8 queries per page (the session, the user, the membership, the creditor box, the count,
two permission reads, the rows) in a wallet below the exact-count limit: a small wallet pays none of the big-wallet
machinery (the planner's estimate, the count under a statement timeout)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.seeding import seed_wallet

CHANGELIST = "/admin/core/client/"
PAGES = ["", "?p=2", "?q=maria", "?o=-3", "?atraso=91_180", "?status__exact=quitado", "?o=5&p=2"]
MAX_QUERIES = 8


def test_every_carteira_page_of_a_small_wallet_costs_at_most_8_queries(client, tenant_admin, tenant):
    seed_wallet(tenant, 150, seed=2)
    client.force_login(tenant_admin)
    client.get(CHANGELIST)  # the session's first read stores what later pages reuse
    counts = {}
    for query in PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        counts[query] = len(queries.captured_queries)
    assert max(counts.values()) <= MAX_QUERIES, counts
