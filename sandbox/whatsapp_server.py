"""The WhatsApp sandbox (sandbox/whatsapp_fake.py) as its own HTTP server on loopback: the tests, or by hand:

uv run python -m sandbox.whatsapp_server --port 8767
"""

import argparse

from sandbox.loopback import LoopbackServer, handler_for
from sandbox.whatsapp_fake import WhatsAppSandbox


class WhatsAppSandboxServer(LoopbackServer):
    """A running WhatsApp sandbox on 127.0.0.1; `url` is the Graph API root (`/<phone number id>/messages` below)."""

    api_root = "/v21.0"

    def __init__(self, sandbox: WhatsAppSandbox | None = None, port: int = 0):
        sandbox = sandbox or WhatsAppSandbox()
        super().__init__(sandbox, handler_for(sandbox), port)


def main():
    parser = argparse.ArgumentParser(description="Sandbox WhatsApp Cloud API em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    server = WhatsAppSandboxServer(port=args.port)
    server.run("Sandbox WhatsApp em {url} (token: sandbox-wa-<qualquer>)")


if __name__ == "__main__":
    main()
