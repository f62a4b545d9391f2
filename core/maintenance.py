"""Database upkeep after the wallet's large writes (imports, seeding)."""

from django.db import connection

from core.models import Client, ClientPhone, Debt

WALLET_TABLES = (Client, ClientPhone, Debt)


def refresh_wallet_statistics() -> None:
    """Refresh the planner's statistics of the wallet tables, after a large import or seeding (PostgreSQL).

    The Carteira's plans and its per-filter row estimates come from these statistics, which autovacuum
    refreshes only some time after a bulk load (and never where it is turned off): right after a million
    clients arrive the planner still believes the table empty, or half its size. Outside a transaction a
    VACUUM follows, which marks the new pages all-visible so that counts and deep pages are read from the
    indexes alone; inside one (a test, a caller's atomic block) VACUUM cannot run.
    """
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in WALLET_TABLES)
    with connection.cursor() as cursor:
        # ANALYZE first: its commit flushes the WAL, and with it the commits the seeding made asynchronous;
        # until those are flushed VACUUM cannot mark their pages all-visible.
        cursor.execute(f"ANALYZE {tables}")
        if not connection.in_atomic_block:
            cursor.execute(f"VACUUM {tables}")
