"""The ASGI application (uvicorn): Django, with the 3C Plus webhook's deliveries taken before its request cycle."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Each request's database work runs on a thread of its own here: connections come from a pool (config/settings.py).
os.environ.setdefault("DATABASE_POOL", "1")
django_application = get_asgi_application()

from dialer import asgi as dialer_asgi  # noqa: E402  (after Django is set up)


async def application(scope, receive, send):
    if dialer_asgi.handles(scope):
        return await dialer_asgi.webhook(scope, receive, send)
    return await django_application(scope, receive, send)
