"""The connection pool's health check, without a round trip per request under load.

psycopg_pool's own check (what Django installs with CONN_HEALTH_CHECKS) sends an empty query each time a connection
leaves the pool: under uvicorn that is every request and every webhook delivery, one more round trip than the work.
A connection lent in the last few seconds was working then; only one not lent for longer is asked again (after
a database restart, or an idle connection cut by the network, which is what the check is for). The price: after
a restart, each connection lent in the 2 s before it fails one request, and the pool then drops it.
"""

import time

from psycopg_pool import ConnectionPool

RECENT_SECONDS = 2.0


def check_unless_recent(connection) -> None:
    now = time.monotonic()
    if now - getattr(connection, "_cobranca_handed_out_at", -RECENT_SECONDS - 1) > RECENT_SECONDS:
        ConnectionPool.check_connection(connection)  # raises if the connection is gone: the pool drops it
    connection._cobranca_handed_out_at = now
