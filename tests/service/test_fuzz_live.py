"""Schemathesis against `scale serve` over real HTTP: every check, >= 2,000 requests, zero 5xx (issue 9).

Also, on the same live server, the HTTP-level answers uvicorn gives before the app (bad Content-Length).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import LiveServer, clean_env, free_port, live_server
from tests.service.svc_support import LABELS, tiny_bundle

pytestmark = pytest.mark.integration
KEY = "fuzz-key-123456"
FUZZ_SECONDS = 130
MIN_REQUESTS = 2000
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    argv = [sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path), "--port", str(port),
            "--device", "cpu", "--log-level", "warning"]
    env = clean_env(SCALE_API_KEY=KEY, SCALE_MAX_FRAMES="4", SCALE_MAX_SEQUENCES="2",
                    SCALE_MAX_BODY_BYTES="262144", SCALE_MAX_CLASSES="200", SCALE_MAX_CLASSES_PER_REQUEST="2")
    with live_server(argv, port, tmp_path_factory.mktemp("fuzz") / "serve.log", env) as srv:
        r = httpx.post(srv.url + "/classes", json={"classes": [{"label": lab} for lab in LABELS[:2]]},
                       headers={"X-API-Key": KEY}, timeout=60)
        assert r.status_code == 200, r.text
        yield srv


def requests_by_status(url: str) -> dict[str, float]:
    """Requests the server counted, by status class, from its own /metrics."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == "scale_http_requests_total":
                key = sample.labels["status"][0] + "xx"
                counts[key] = counts.get(key, 0) + sample.value
    return counts


def successes(url: str) -> dict[str, float]:
    """2xx answers the server counted per POST route (the success paths the fuzzer reached)."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "scale_http_requests_total" and labels["method"] == "POST" \
                    and labels["status"].startswith("2"):
                counts[labels["route"]] = counts.get(labels["route"], 0) + sample.value
    return counts


def seconds_by_route(url: str) -> dict[str, tuple[float, float]]:
    """(requests, total seconds) per method and route from the server's latency histogram."""
    out: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name.startswith("scale_http_request_duration_seconds_"):
                key = f"{sample.labels['method']} {sample.labels['route']}"
                count, total = out.get(key, (0.0, 0.0))
                if sample.name.endswith("_count"):
                    count = sample.value
                elif sample.name.endswith("_sum"):
                    total = sample.value
                out[key] = (count, total)
    return out


def test_schemathesis_all_checks_no_5xx(server: LiveServer, tmp_path: Path) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert binary, "schemathesis is in the dev extra: pip install -e '.[dev]'"
    before, ok_before = requests_by_status(server.url), successes(server.url)
    report = tmp_path / "report.xml"
    proc = subprocess.run(
        [binary, "--config-file", str(CONFIG), "run", server.url + "/openapi.json", "--checks", "all",
         "--phases", "examples,fuzzing,stateful", "--max-time", str(FUZZ_SECONDS), "--workers", "4",
         "--seed", "20261128", "--header", f"X-API-Key: {KEY}", "--request-timeout", "30",
         "--suppress-health-check", "all", "--report", "junit", "--report-junit-path", str(report),
         "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_SECONDS + 240)  # its cache stays out of the repo
    after = requests_by_status(server.url)
    sent = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print(json.dumps(sent), json.dumps(seconds_by_route(server.url)), proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert sum(sent.values()) >= MIN_REQUESTS, sent
    assert sent.get("5xx", 0) == 0, (sent, server.log()[-4000:])
    ok = {route: n - ok_before.get(route, 0) for route, n in successes(server.url).items()}
    # the document's examples and skeleton shapes lead the fuzzer onto the success paths too
    assert ok.get("/recognize", 0) > 0 and ok.get("/detect", 0) > 0, ok


def raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("length", [b"abc", b"-5", b"1, 2", b"99999999999999999999999"])
def test_bad_content_length_is_a_problem_json_400(server: LiveServer, length: bytes) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    head, body = raw_exchange(port, b"POST /recognize HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: " + length + b"\r\n\r\n{}")
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.1 413"), head
    assert b"application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] in (400, 413) and problem["detail"]


def test_options_on_a_class_lists_get_and_delete(server: LiveServer) -> None:
    r = httpx.options(server.url + "/classes/0123456789abcdef", timeout=10)
    assert r.status_code == 405 and set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "DELETE"}
