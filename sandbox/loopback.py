"""What the sandboxes' loopback servers share (the 3C Plus, the PSP, WhatsApp): an HTTP server on 127.0.0.1 in a
daemon thread, a URL for the client under test, and `python -m` entry points. Standard library only: the servers run
with no Django set up."""

import threading
from http.server import ThreadingHTTPServer


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
