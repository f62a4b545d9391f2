"""3C Plus answering with hostile values: the sandbox behind its own loopback HTTP server, whose answers a test
rewrites per endpoint. Everything else is the sandbox as it is (its accounts, calls and fault modes)."""

import json
import re

from sandbox.server import SandboxServer


class Tampering:
    """Passes each request to the sandbox, then lets the first matching rewrite change the answer."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.rewrites = []  # (method, path pattern, rewrite(status, headers, body, query) -> (status, headers, body))
        self.url = ""

    def rewrite(self, method: str, pattern: str, function) -> None:
        self.rewrites.insert(0, (method, re.compile(pattern), function))

    def clear(self) -> None:
        self.rewrites.clear()

    def handle(self, method, path, query, headers, body):
        status, answer_headers, payload = self.sandbox.handle(method, path, query, headers, body)
        for rule_method, pattern, function in self.rewrites:
            if rule_method == method.upper() and pattern.fullmatch("/" + path.strip("/")):
                return function(status, answer_headers, payload, query)
        return status, answer_headers, payload


def answer(status: int, body, headers=None) -> tuple[int, dict, bytes]:
    """A JSON answer; NaN and Infinity written as the bare literals a broken server sends."""
    payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, payload


def serve(sandbox) -> tuple[Tampering, SandboxServer]:
    tampering = Tampering(sandbox)
    server = SandboxServer(tampering).start()
    tampering.url = server.url
    return tampering, server
