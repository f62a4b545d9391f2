"""asyncio.run on a thread of its own, for the tests that drive the ASGI stream or a live server with asyncio.

After a Playwright test, the xdist worker's main thread keeps Playwright's event loop running, and asyncio.run there
refuses to start another ("cannot be called from a running event loop"). Which test runs after a browser test on a
worker depends on --dist worksteal's timing, so any direct asyncio.run in the suite was a flake waiting for its turn.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run_apart(coroutine):
    """Run `coroutine` to completion on a fresh thread and event loop; return its result or raise its error."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="asyncio-apart") as thread:
        return thread.submit(asyncio.run, coroutine).result()
