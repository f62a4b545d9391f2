"""Child processes the commands and tests start (a worker, a server)."""

import subprocess
import time
import urllib.error
import urllib.request


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask the process to end (SIGTERM, so it shuts down cleanly); kill it if it has not after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 60) -> bool:
    """Poll `url` until the server started as `process` answers (any HTTP status: /healthz says 503 while no
    worker beats, and that is an answer); False if the process ends or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def database_url(db: dict, name: str | None = None) -> str:
    """A DATABASE_URL for a child process, from Django's settings of a PostgreSQL database (another database
    name if given). The host is quoted so that a socket directory survives."""
    from urllib.parse import quote

    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "127.0.0.1", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(name or db['NAME'], safe='')}"
