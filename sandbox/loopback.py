"""What the sandboxes' loopback servers share (the 3C Plus, the PSP, WhatsApp): an HTTP server on 127.0.0.1 in a
daemon thread, a URL for the client under test, and `python -m` entry points. Standard library only: the servers run
with no Django set up."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 20  # a request body past this is refused (413) before it is read


def handler_for(sandbox):
    """The request handler of a fake whose `handle(method, path, query, headers, body)` answers
    (status, headers, payload): the PSP's and WhatsApp's (the 3C Plus one adds lost answers and a path prefix)."""

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
                pass  # the client gave up (its timeout): nothing to answer

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):  # quiet: request lines may carry tokens
            pass

    return Handler


class LoopbackServer:
    """A fake's handler served on 127.0.0.1 (port 0: a free one); `url` is the API root a client is given."""

    api_root = ""  # the path every API URL of the fake starts with

    def __init__(self, sandbox, handler, port: int = 0):
        self.sandbox = sandbox
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{self.api_root}"

    def start(self):
        self.sandbox.base_url = self.url
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def run(self, banner: str) -> None:
        """Serve in the foreground until Ctrl+C (the `python -m` entry points)."""
        self.sandbox.base_url = self.url
        print(banner.format(url=self.url), flush=True)
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
