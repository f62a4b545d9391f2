"""The sandbox PSP (API Pix + boletos) as its own HTTP server on loopback (tests, the demo, or by hand):

uv run python -m sandbox.pix_server --port 8766

Credentials: client_id `sandbox-<name>`, client_secret `segredo-<name>`. Webhooks go out with urllib.
"""

import argparse
import urllib.error
import urllib.request

from sandbox.loopback import LoopbackServer, handler_for
from sandbox.pix_fake import PixSandbox


def post_webhook(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class PixSandboxServer(LoopbackServer):
    """A running sandbox PSP on 127.0.0.1; `url` is the API root (`/v2/cob`, `/oauth/token` below it)."""

    def __init__(self, sandbox: PixSandbox | None = None, port: int = 0):
        sandbox = sandbox or PixSandbox(deliver=post_webhook)
        super().__init__(sandbox, handler_for(sandbox), port)


def main():
    parser = argparse.ArgumentParser(description="Sandbox PSP (API Pix) em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server = PixSandboxServer(port=args.port)
    server.run("Sandbox PSP em {url} (client_id sandbox-<empresa>, secret segredo-<empresa>)")


if __name__ == "__main__":
    main()
