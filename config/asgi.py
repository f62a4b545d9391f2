"""The ASGI application (uvicorn): Django, with the 3C Plus webhook's deliveries taken before its request cycle and
the consoles' call streams served without a thread each."""

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Each request's database work runs on a thread of its own here: connections come from a pool (config/settings.py).
os.environ.setdefault("DATABASE_POOL", "1")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)
from django.urls import reverse  # noqa: E402

from dialer import asgi as dialer_asgi  # noqa: E402

# Django runs each request in a ThreadSensitiveContext of its own: the request's sync parts (most middleware, the
# session, the user) get a thread that lives as long as the request. For a page that is milliseconds; for a
# console's call stream it is hours, one idle thread per waiting operator (2,000 consoles, ~2,000 threads). The
# streams' sync parts run instead on a few threads shared by every stream of the process, each a single thread as
# Django expects of a request's context; their waiting is async (attendance.views.call_stream, dialer.live).
CALL_STREAM_PATH = reverse("attendance:call_stream")
_stream_threads = itertools.cycle(
    [
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-stream")
        for _ in range(max(1, settings.ATTENDANCE_STREAM_THREADS))
    ]
)


async def application(scope, receive, send):
    if dialer_asgi.handles(scope):
        return await dialer_asgi.webhook(scope, receive, send)
    if scope["type"] == "http" and scope["path"] == CALL_STREAM_PATH:
        async with ThreadSensitiveContext(executor=next(_stream_threads)):
            return await django_application.handle(scope, receive, send)
    return await django_application(scope, receive, send)
