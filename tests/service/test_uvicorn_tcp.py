"""A real `scale serve` process over TCP: ready, answers, counts, and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import socket
import sys

import httpx
import numpy as np
import pytest

from tests.live_server import clean_env, free_port, live_server
from tests.service.svc_support import LABELS, prompt_of, reference, skeleton, tiny_bundle, within_tolerance

pytestmark = pytest.mark.integration
LIMIT = 8 * 1024 * 1024  # SCALE_MAX_BODY_BYTES default


def _answer_to_partial_body(port: int, head: bytes, body_part: bytes) -> tuple[bytes, dict]:
    """Send a request head and only part of its body, then read the answer while the rest is still owed."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + body_part)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {reply[:300]!r}"
            reply += chunk
        header, _, body = reply.partition(b"\r\n\r\n")
        length = int(next(line.split(b":", 1)[1] for line in header.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed in the middle of the answer"
            body += chunk
    return header, json.loads(body[:length])


def test_scale_serve_over_tcp_and_sigterm(tmp_path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path), "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--log-level", "info"]
    with live_server(cmd, port, tmp_path / "serve.log", clean_env(), ready_timeout=120) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/classes", json={"classes": [{"label": lab} for lab in LABELS[:3]]}).status_code == 200
            seq = skeleton(7)
            r = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 3})
            assert r.status_code == 200, r.text
            got = {x["label"]: x["energy"] for x in r.json()["results"]}
            energy, _ = reference([seq], [prompt_of(lab) for lab in LABELS[:3]])
            assert within_tolerance(np.array([got[lab] for lab in LABELS[:3]]), energy[0]).all()
            big = client.post("/recognize", content=b"0" * 9_000_000, headers={"Content-Type": "application/json"})
            assert big.status_code == 413
            assert 'route="/recognize",status="200"' in client.get("/metrics").text
        # Declared too large: only 10 of 100 MB are sent, so an answer proves the body was never awaited.
        header, problem = _answer_to_partial_body(
            port, b"POST /recognize HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000000\r\n\r\n", b"0" * 10)
        assert header.startswith(b"HTTP/1.1 413") and b"application/problem+json" in header
        assert "100000000 bytes" in problem["detail"] and f"limit is {LIMIT}" in problem["detail"]
        # Chunked (no length): refused as soon as the count passes the limit, without the final chunk.
        chunk = b"[" * (LIMIT + 1)
        header, problem = _answer_to_partial_body(
            port, b"POST /recognize HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n", b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        assert header.startswith(b"HTTP/1.1 413") and f"more than {LIMIT}" in problem["detail"]
        assert problem["type"].endswith("/payload-too-large") and problem["status"] == 413
    text = server.log()
    assert server.returncode == 0, text[-3000:]
    assert "CPUExecutionProvider" in text  # providers are logged at start
    assert "Application shutdown complete" in text
