"""uvicorn protocols whose 400 for a malformed request (bad Content-Length, bad request line) is problem+json.

uvicorn answers requests it cannot parse itself, before the app sees them, with a text/plain body; these
subclasses send the same RFC 9457 document every other error of the API carries.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PROBLEM_TYPE = "https://scale.example/problems/bad-http-request"


def problem_400(msg: str) -> bytes:
    """The problem+json body for an HTTP request uvicorn could not parse."""
    return json.dumps({"type": PROBLEM_TYPE, "title": "Bad request", "status": 400,
                       "detail": f"malformed HTTP request: {msg}"}).encode()


def _raw_response(body: bytes, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 400 Bad Request\r\n"]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [b"content-type: application/problem+json\r\n", b"content-length: %d\r\n" % len(body),
              b"connection: close\r\n", b"\r\n", body]
    return b"".join(lines)


class ProblemH11Protocol(H11Protocol):
    """h11 protocol (pure Python, always installed) with a problem+json 400."""

    def send_400_response(self, msg: str) -> None:  # noqa: D102 (uvicorn hook)
        self.transport.write(_raw_response(problem_400(msg), self.server_state.default_headers))
        self.transport.close()


def problem_protocol() -> type[Any]:
    """The protocol uvicorn's `http="auto"` would pick (httptools when installed), with problem+json 400s."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return ProblemH11Protocol

    class ProblemHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            self.transport.write(_raw_response(problem_400(msg), self.server_state.default_headers))
            self.transport.close()

    return ProblemHttpToolsProtocol
