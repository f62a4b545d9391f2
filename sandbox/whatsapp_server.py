"""The WhatsApp sandbox (sandbox/whatsapp_fake.py) as its own HTTP server on loopback: the tests, or by hand:

uv run python -m sandbox.whatsapp_server --port 8766
"""

import argparse
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from sandbox.loopback import LoopbackServer
from sandbox.whatsapp_fake import WhatsAppSandbox


def make_handler(sandbox: WhatsAppSandbox):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = sandbox.handle(
                self.command, url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    return Handler


class WhatsAppSandboxServer(LoopbackServer):
    """A running WhatsApp sandbox on 127.0.0.1; `url` is the Graph API root (`/<phone number id>/messages` below)."""

    api_root = "/v21.0"

    def __init__(self, sandbox: WhatsAppSandbox | None = None, port: int = 0):
        sandbox = sandbox or WhatsAppSandbox()
        super().__init__(sandbox, make_handler(sandbox), port)


def main():
    parser = argparse.ArgumentParser(description="Sandbox WhatsApp Cloud API em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    server = WhatsAppSandboxServer(port=args.port)
    server.run("Sandbox WhatsApp em {url} (token: sandbox-wa-<qualquer>)")


if __name__ == "__main__":
    main()
