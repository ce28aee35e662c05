"""WebSocket /streams: frames or small chunks in; window results and segment events out as they happen.

Protocol (docs/service.md): the client sends a `start` message (options, optional api_key), then `frames`
messages (JSON, or binary .npy chunks), then `end`. The server answers `ready`, then `window` and `segment`
events, then `end`; any `error` event is followed by closing the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from service.deps import ServiceState
from service.engine.open_set import bundle_threshold
from service.engine.text_columns import text_columns
from service.inputs.detect_payloads import DetectOptionsIn, check_sequence, detect_limits, window_spec
from service.inputs.layout_input import LayoutOptions
from service.inputs.notices import join_notices
from service.inputs.payloads import load_npy_body
from service.inputs.rules import check_json_depth
from service.problems import Problem, invalid
from service.routers.recognize import resolve_candidates
from service.untrimmed.stream_session import StreamSession

router = APIRouter(tags=["recognition"])

CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_LATER = 1000, 1008, 1009, 1013


class StreamClosed(Exception):
    """End the connection with this close code after an error event."""

    def __init__(self, code: int, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.status, self.kind, self.detail = code, status, kind, detail


def _given_key(ws: WebSocket, start: dict[str, Any]) -> str | None:
    auth = ws.headers.get("authorization", "")
    return (ws.headers.get("x-api-key") or (auth[7:].strip() if auth.lower().startswith("bearer ") else None)
            or start.get("api_key"))


def _check_key(state: ServiceState, ws: WebSocket, start: dict[str, Any]) -> None:
    if "api_key" in ws.query_params:  # a URL lands in server and proxy logs: never accept a key there
        raise StreamClosed(CLOSE_POLICY, 400, "key-in-url", "the API key must not be sent in the URL (it would "
                           "be logged); send the X-API-Key header or \"api_key\" in the start message")
    key = state.settings.api_key
    if key is None:
        return
    given = _given_key(ws, start)
    if not given or not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise StreamClosed(CLOSE_POLICY, 401, "unauthorized", "this stream needs the API key: X-API-Key or "
                           "'Authorization: Bearer' header, or \"api_key\" in the start message")


async def _receive(ws: WebSocket, state: ServiceState) -> dict[str, Any] | np.ndarray:
    """Next message (JSON object or .npy array) within the idle timeout and the size limit."""
    settings = state.settings
    try:
        message = await asyncio.wait_for(ws.receive(), settings.stream_idle_timeout_s)
    except TimeoutError:
        raise StreamClosed(CLOSE_POLICY, 408, "idle-timeout", f"no message for {settings.stream_idle_timeout_s}s "
                           "(SCALE_STREAM_IDLE_TIMEOUT_S)") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data = message.get("bytes") if message.get("bytes") is not None else (message.get("text") or "").encode()
    if len(data) > settings.stream_max_message_bytes:
        raise StreamClosed(CLOSE_TOO_BIG, 413, "message-too-large", f"message of {len(data)} bytes; the limit "
                           f"is {settings.stream_max_message_bytes} (SCALE_STREAM_MAX_MESSAGE_BYTES)")
    if message.get("bytes") is not None:
        return load_npy_body(data)
    check_json_depth(data)  # deep nesting would end json.loads in a RecursionError
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"message is not valid JSON: {exc}", kind="bad-json") from exc
    if not isinstance(value, dict) or "type" not in value:
        raise invalid("a JSON message must be an object with a \"type\" (start, frames or end)")
    return value


def _query_options(ws: WebSocket) -> dict[str, Any]:
    """Options given in the connection's query string (the start message's fields override them)."""
    params = ws.query_params
    return {k: params.getlist(k) if k == "classes" else params[k] for k in params if k != "api_key"}


async def _open(ws: WebSocket, state: ServiceState) -> tuple[StreamSession, dict[str, Any], LayoutOptions]:
    start = await _receive(ws, state)
    if not isinstance(start, dict) or start.get("type") != "start":
        raise invalid("the first message must be {\"type\": \"start\", ...options}", kind="no-start")
    _check_key(state, ws, start)
    try:
        options = DetectOptionsIn.model_validate({**_query_options(ws), **{k: v for k, v in start.items()
                                                                            if k not in ("type", "api_key")}})
    except ValidationError as exc:
        raise invalid(f"start options: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    layout = options.layout_options(["start"])
    spec = window_spec(options, state.settings)
    if spec.length + spec.stride > state.settings.stream_max_buffer_frames:
        raise invalid(f"window {spec.length} + stride {spec.stride} exceed the buffer limit of "
                      f"{state.settings.stream_max_buffer_frames} frames (SCALE_STREAM_MAX_BUFFER_FRAMES)")
    snap = await state.snapshot()
    records = resolve_candidates(snap, options.classes)
    rows = await text_columns(records, state.conditioner, state.settings.text_aggregation)
    override = options.threshold
    threshold = override if override is not None else bundle_threshold(state)
    source = "request" if override is not None else ("bundle" if threshold is not None else "none")
    session = StreamSession(state, spec, records, rows, threshold, source, options.smooth, options.min_score,
                            layout)
    ready = {"type": "ready", "window": {"length": spec.length, "stride": spec.stride},
             "classes": [{"id": r.id, "label": r.label} for r in records],
             "open_set": {"threshold": threshold, "source": source}, "bundle_version": state.bundle.version,
             "registry_version": snap.version, "layout": options.layout,
             "demo": True if state.demo else None, "warning": join_notices(state.warning),
             "limits": {"max_message_bytes": state.settings.stream_max_message_bytes,
                        "max_buffer_frames": state.settings.stream_max_buffer_frames,
                        "idle_timeout_s": state.settings.stream_idle_timeout_s}}
    return session, ready, layout


def _frames(message: dict[str, Any] | np.ndarray, state: ServiceState, opts: LayoutOptions,
            notes: list[str]) -> np.ndarray | None:
    """A frames message as validated raw (M,n,V,C) of the layout (the session maps it); None for `end`.

    Warnings about the input go to `notes`.
    """
    if isinstance(message, dict):
        kind = message.get("type")
        if kind == "end":
            return None
        if kind != "frames" or "frames" not in message:
            raise invalid(f"expected a frames or end message, got type {kind!r}")
        message = message["frames"]
    limits = detect_limits(state.limits, state.settings)
    return check_sequence(message, opts, limits, ["frames"], notes, mapped=False)


async def _serve(ws: WebSocket, state: ServiceState) -> None:
    session, ready, layout = await _open(ws, state)
    await ws.send_json(ready)
    warned: set[str] = set()
    while True:
        notes: list[str] = []
        frames = _frames(await _receive(ws, state), state, layout, notes)
        for note in notes:  # each kind of warning once per connection (figures in it vary by chunk)
            kind = note.split(": ", 1)[-1][:30]
            if kind not in warned:
                warned.add(kind)
                await ws.send_json({"type": "warning", "detail": note})
        if frames is None:
            for event in await session.end():
                await ws.send_json(event)
            await ws.send_json({"type": "end", "frames": session.total, "windows": session.windows})
            await ws.close(CLOSE_NORMAL)
            return
        if session.buffered + frames.shape[1] > state.settings.stream_max_buffer_frames:
            raise StreamClosed(CLOSE_POLICY, 413, "buffer-full", f"{session.buffered + frames.shape[1]} frames "
                               f"would be buffered; the limit is {state.settings.stream_max_buffer_frames} "
                               "(send smaller chunks)")
        state.metrics.stream_frames.inc(frames.shape[1])
        for event in await session.add(frames):
            await ws.send_json(event)


@router.websocket("/streams")
async def streams(ws: WebSocket) -> None:
    """Live recognition over a WebSocket (see the module docstring and docs/service.md)."""
    state: ServiceState | None = getattr(ws.app.state, "service", None)
    await ws.accept()
    if state is None:
        await _fail(ws, StreamClosed(CLOSE_TRY_LATER, 503, "starting", "the service is still starting"))
        return
    open_now = getattr(ws.app.state, "open_streams", 0)
    if open_now >= state.settings.stream_max_sessions:
        await _fail(ws, StreamClosed(CLOSE_TRY_LATER, 503, "too-many-streams", f"{open_now} streams are "
                                     "open (SCALE_STREAM_MAX_SESSIONS); retry later"))
        return
    ws.app.state.open_streams = open_now + 1
    state.metrics.stream_sessions.inc()
    try:
        await _serve(ws, state)
    except WebSocketDisconnect:
        pass
    except StreamClosed as exc:
        await _fail(ws, exc)
    except Problem as exc:
        await _fail(ws, StreamClosed(CLOSE_TRY_LATER if exc.status in (429, 503) else CLOSE_POLICY,
                                     exc.status, exc.kind, exc.detail))
    finally:
        ws.app.state.open_streams -= 1
        state.metrics.stream_sessions.dec()


async def _fail(ws: WebSocket, exc: StreamClosed) -> None:
    try:
        await ws.send_json({"type": "error", "status": exc.status, "kind": exc.kind, "detail": exc.detail})
        await ws.close(exc.code, reason=exc.kind)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client is already gone
