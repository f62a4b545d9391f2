"""The WhatsApp sandbox (sandbox/whatsapp_fake.py) as its own HTTP server on loopback: the tests, or by hand:

uv run python -m sandbox.whatsapp_server --port 8766
"""

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


class WhatsAppSandboxServer:
    def __init__(self, sandbox: WhatsAppSandbox | None = None, port: int = 0):
        self.sandbox = sandbox or WhatsAppSandbox()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.sandbox))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v21.0"

    def start(self) -> "WhatsAppSandboxServer":
        self.sandbox.base_url = self.url
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main():
    parser = argparse.ArgumentParser(description="Sandbox WhatsApp Cloud API em 127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server = WhatsAppSandboxServer(port=args.port)
    print(f"Sandbox WhatsApp em {server.url} (token: sandbox-wa-<qualquer>)", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
