"""Database work from async code (the console's event stream) on a few threads of its own.

A thread-sensitive sync_to_async call inside a request runs on that request's own thread, which keeps its
database connection while the request lasts: an event stream open for hours would hold one connection per
waiting operator. These threads are shared by every stream of the process, and each call gives its connection
back when it ends: to the pool under uvicorn (config/asgi.py), closed elsewhere, so no thread keeps one.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.ASYNC_DB_THREADS, thread_name_prefix="async-db")
    return _executor


def _call(function, args, kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


async def run(function, *args, **kwargs):
    """function(*args, **kwargs) on one of the shared database threads."""
    return await sync_to_async(_call, thread_sensitive=False, executor=executor())(function, args, kwargs)
