"""A real uvicorn server: /streams takes the key in a header or the start message, never from the URL, and
the server's log never shows the key, even when a client put it in the URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from client.stream import StreamClient, StreamError
from tests.conftest import free_port
from tests.live_server import clean_env, live_server
from tests.service.svc_support import tiny_bundle

pytestmark = pytest.mark.integration
KEY = "stream-log-secret-98765"


def test_stream_keys_stay_out_of_urls_and_logs(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path), "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--log-level", "info"]
    log = tmp_path / "serve.log"
    with live_server(cmd, port, log, clean_env(SCALE_API_KEY=KEY)) as server:
        added = httpx.post(server.url + "/classes", headers={"X-API-Key": KEY}, timeout=60,
                           json={"classes": [{"label": "walking"}]})
        assert added.status_code == 200, added.text
        with StreamClient(server.url, api_key=KEY) as stream:  # the client sends X-API-Key
            assert stream.start(window=16, stride=8)["type"] == "ready"
        with StreamClient(server.url, api_key="") as stream, pytest.raises(StreamError) as anonymous:
            stream.start(window=16, stride=8)
        assert anonymous.value.event["status"] == 401
        ws_url = server.url.replace("http", "ws") + "/streams"
        with connect(ws_url) as ws:  # the key in the first message
            ws.send(json.dumps({"type": "start", "api_key": KEY, "window": 16, "stride": 8}))
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        with connect(f"{ws_url}?api_key={KEY}") as ws:  # the key in the URL: refused, and not logged
            ws.send(json.dumps({"type": "start", "window": 16, "stride": 8}))
            refused = json.loads(ws.recv(timeout=30))
        assert refused["kind"] == "key-in-url"
    text = log.read_text(errors="replace")
    assert '"WebSocket /streams?api_key=[redacted]"' in text  # uvicorn logged the request line ...
    assert KEY not in text  # ... but not the key
