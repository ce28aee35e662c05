"""WebSocket /streams: the real PKU-MMD sample streamed in chunks equals /detect's windows; limits and key."""

from __future__ import annotations

import io

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from model.pkummd import read_pkummd_skeleton
from tests.service.svc_support import LABELS, register, running_app

pytestmark = pytest.mark.integration


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _drain(ws) -> list[dict]:
    events = []
    while True:
        event = ws.receive_json()
        events.append(event)
        if event["type"] in ("end", "error"):
            return events


def test_real_sample_streamed_equals_detect_windows(shared_data):
    path = shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt"
    joints = read_pkummd_skeleton(path)
    with running_app() as client:
        register(client, list(LABELS))
        offline = client.post("/detect?include_windows=true&smooth=1", content=path.read_bytes(),
                              headers={"Content-Type": "text/plain"}).json()
        events = []
        with client.websocket_connect("/streams") as ws:
            ws.send_json({"type": "start", "smooth": 1})
            ready = ws.receive_json()
            assert ready["type"] == "ready" and ready["window"] == {"length": 128, "stride": 32}
            assert ready["open_set"] == {"threshold": None, "source": "none"}
            for i, start in enumerate(range(0, 1040, 40)):  # alternate JSON and binary .npy chunks
                chunk = joints[:, start:start + 40]
                if i % 2:
                    ws.send_bytes(npy_bytes(chunk))
                else:
                    ws.send_json({"type": "frames", "frames": chunk.tolist()})
            ws.send_json({"type": "end"})
            events = _drain(ws)
        windows = [e for e in events if e["type"] == "window"]
        assert events[-1] == {"type": "end", "frames": 1040, "windows": len(windows)}
        want = offline["windows"]
        assert [(w["start_frame"], w["end_frame"]) for w in windows] == \
            [(w["start_frame"], w["end_frame"]) for w in want]
        for got, ref in zip(windows, want, strict=True):
            assert got["class_id"] == ref["class_id"]
            assert got["energy"] == pytest.approx(ref["energy"], rel=1e-5, abs=1e-4)
            assert got["open_set"]["accepted"] is True and got["latency_ms"] >= 0
        segments = [e for e in events if e["type"] == "segment"]
        assert segments[0]["start_frame"] == 0 and segments[-1]["end_frame"] == 1039
        for a, b in zip(segments, segments[1:], strict=False):  # segment events tile the stream in order
            assert b["start_frame"] == a["end_frame"] + 1
        metrics = client.get("/metrics").text
        assert "scale_stream_frames_total 1040.0" in metrics
        assert "scale_stream_sessions 0.0" in metrics
        assert "scale_stream_window_latency_seconds_count" in metrics


def test_stream_key_limits_and_errors():
    key = "stream-secret-1"
    frame = np.ones((1, 5, 25, 3), np.float32).tolist()
    with running_app(api_key=key, stream_max_message_bytes=4096, stream_idle_timeout_s=0.5,
                     stream_max_buffer_frames=200) as client:
        register(client, ["walking"], **{"X-API-Key": key})
        with client.websocket_connect("/streams") as ws:
            ws.send_json({"type": "start"})
            err = ws.receive_json()
            assert err["type"] == "error" and err["status"] == 401
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        with client.websocket_connect(f"/streams?api_key={key}") as ws:  # a key in the URL: refused
            ws.send_json({"type": "start", "window": 16, "stride": 8})
            err = ws.receive_json()
            assert err["kind"] == "key-in-url" and key not in err["detail"]
        with client.websocket_connect("/streams", headers={"X-API-Key": key}) as ws:  # message over 4096 bytes
            ws.send_json({"type": "start", "window": 16, "stride": 8})
            assert ws.receive_json()["type"] == "ready"
            ws.send_json({"type": "frames", "frames": np.ones((1, 40, 25, 3)).tolist()})
            err = ws.receive_json()
            assert err["kind"] == "message-too-large"
        with client.websocket_connect("/streams") as ws:  # key in the start message; idle timeout
            ws.send_json({"type": "start", "api_key": key, "window": 16, "stride": 8})
            assert ws.receive_json()["type"] == "ready"
            assert ws.receive_json()["kind"] == "idle-timeout"
        with client.websocket_connect("/streams", headers={"X-API-Key": key}) as ws:
            ws.send_json({"type": "start", "window": 150, "stride": 100})
            assert ws.receive_json()["kind"] == "invalid-request"  # window + stride over the buffer limit
        with client.websocket_connect("/streams", headers={"X-API-Key": key}) as ws:
            ws.send_json({"type": "start", "window": 16, "stride": 8})
            ws.receive_json()
            ws.send_json({"type": "frames", "frames": frame})
            ws.send_json({"type": "frames", "frames": [[1, 2]]})
            err = ws.receive_json()
            assert err["status"] == 422 and "rank" in err["detail"]
        with client.websocket_connect("/streams", headers={"X-API-Key": key}) as ws:
            ws.send_json({"type": "frames"})
            assert ws.receive_json()["kind"] == "no-start"
        with client.websocket_connect("/streams", headers={"X-API-Key": key}) as ws:  # 1,000 levels of nesting
            ws.send_text('{"type": "start", "x": ' + "[" * 1000 + "]" * 1000 + "}")
            err = ws.receive_json()
            assert err["status"] == 422 and err["kind"] == "too-deep"
        assert "scale_stream_sessions 0.0" in client.get("/metrics").text
