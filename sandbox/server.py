"""The sandbox 3C Plus as its own HTTP server on loopback (tests, benchmarks, or by hand):

uv run python -m sandbox.server --port 8765 [--count-only] [--latency-ms 20]
"""

import argparse
import socket
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from sandbox.fake import AnswerLost, Sandbox
from sandbox.loopback import LoopbackServer

API_ROOT = "/api/v1"


def make_handler(sandbox: Sandbox, connections: list):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            connections.append(self.client_address)  # one per TCP connection: shows keep-alive reuse

        def _serve(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not url.path.startswith(API_ROOT):
                status, headers, payload = 404, {"Content-Type": "application/json"}, b'{"status":404}'
            else:
                try:
                    status, headers, payload = sandbox.handle(
                        self.command,
                        url.path[len(API_ROOT) :],
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                except AnswerLost:  # processed, then the connection drops before any byte of the answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): nothing to answer

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args):  # quiet: request lines may carry ?api_token=
            pass

    return Handler


class SandboxServer(LoopbackServer):
    """A running sandbox on 127.0.0.1; `url` is the API root to give ThreeCPlusAPI."""

    api_root = API_ROOT

    def __init__(self, sandbox: Sandbox | None = None, port: int = 0):
        sandbox = sandbox or Sandbox()
        self.connections: list = []
        super().__init__(sandbox, make_handler(sandbox, self.connections), port)


def main():
    parser = argparse.ArgumentParser(description="Sandbox 3C Plus em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--count-only", action="store_true", help="conta os contatos sem guardá-los")
    parser.add_argument("--latency-ms", type=int, default=0, help="atraso de cada resposta, como numa rede real")
    args = parser.parse_args()
    server = SandboxServer(Sandbox(store_contacts=not args.count_only), port=args.port)
    server.sandbox.set_faults(latency_ms=args.latency_ms)
    server.run("Sandbox 3C Plus em {url} (token: sandbox-<empresa>)")


if __name__ == "__main__":
    main()
