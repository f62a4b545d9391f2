"""The sandbox PSP (API Pix + boletos) as its own HTTP server on loopback (tests, the demo, or by hand):

uv run python -m sandbox.pix_server --port 8766

Credentials: client_id `sandbox-<name>`, client_secret `segredo-<name>`. Webhooks go out with urllib.
"""

import argparse
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from sandbox.loopback import LoopbackServer
from sandbox.pix_fake import PixSandbox

MAX_BODY = 1 << 20


def post_webhook(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def make_handler(sandbox: PixSandbox):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length else b""
            status, headers, payload = sandbox.handle(
                self.command, url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):
            pass

    return Handler


class PixSandboxServer(LoopbackServer):
    """A running sandbox PSP on 127.0.0.1; `url` is the API root (`/v2/cob`, `/oauth/token` below it)."""

    def __init__(self, sandbox: PixSandbox | None = None, port: int = 0):
        sandbox = sandbox or PixSandbox(deliver=post_webhook)
        super().__init__(sandbox, make_handler(sandbox), port)


def main():
    parser = argparse.ArgumentParser(description="Sandbox PSP (API Pix) em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server = PixSandboxServer(port=args.port)
    server.run("Sandbox PSP em {url} (client_id sandbox-<empresa>, secret segredo-<empresa>)")


if __name__ == "__main__":
    main()
