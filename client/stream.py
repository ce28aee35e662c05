"""Streaming helper for WebSocket /streams (the `websockets` library's sync client)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from client.calls import DEFAULT_URL, npy_bytes
from client.errors import ScaleConnectionError, ScaleError

Event = dict[str, Any]


class StreamError(ScaleError):
    """The service ended the stream with an `error` event (status, kind and detail as it sent them)."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"{event.get('status')} {event.get('kind')}: {event.get('detail')}")
        self.event = event


def ws_url(url: str | None) -> str:
    """http(s)://host:port -> ws(s)://host:port/streams."""
    base = (url or os.environ.get("SCALE_URL") or DEFAULT_URL).rstrip("/")
    return "ws" + base[4:] + "/streams" if base.startswith("http") else base + "/streams"


class StreamClient:
    """`with StreamClient(url, api_key) as s: s.start(window=128); s.send(frames); events = s.end()`."""

    def __init__(self, url: str | None = None, api_key: str | None = None, open_timeout: float = 30.0) -> None:
        self.url = ws_url(url)
        key = api_key if api_key is not None else os.environ.get("SCALE_API_KEY") or None
        headers = {"X-API-Key": key} if key else None
        self._stack = ExitStack()
        try:
            self._ws: ClientConnection = self._stack.enter_context(
                connect(self.url, additional_headers=headers, open_timeout=open_timeout, max_size=None,
                        ping_interval=None))  # the service reads chunks only as fast as it scores them
        except (OSError, TimeoutError) as exc:
            raise ScaleConnectionError(f"cannot open {self.url}: {exc}") from exc
        self.ready: Event | None = None

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._stack.close()

    def _recv(self, timeout: float | None) -> Event | None:
        try:
            event = json.loads(self._ws.recv(timeout=timeout))
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise ScaleConnectionError(f"stream closed by the service: {exc}") from exc
        if event.get("type") == "error":
            raise StreamError(event)
        return event

    def start(self, **options: Any) -> Event:
        """Send the start message (window, stride, classes, threshold, smooth, ... and the input options layout,
        units, confidence_threshold, mirror); returns `ready`."""
        self._ws.send(json.dumps({"type": "start", **options}))
        self.ready = self._recv(None)
        return self.ready

    def send(self, frames: np.ndarray, binary: bool = True) -> None:
        """Send (n,V,C) or (M,n,V,C) frames of the start message's layout as a .npy message (binary) or JSON."""
        arr = np.asarray(frames, np.float32)
        self._ws.send(npy_bytes(arr) if binary else json.dumps({"type": "frames", "frames": arr.tolist()}))

    def poll(self) -> list[Event]:
        """Events that have already arrived (never waits)."""
        events = []
        while (event := self._recv(0)) is not None:
            events.append(event)
        return events

    def end(self, timeout: float = 120.0) -> list[Event]:
        """Send `end` and return every event up to and including the service's `end`."""
        self._ws.send(json.dumps({"type": "end"}))
        events, deadline = [], time.monotonic() + timeout
        while True:
            event = self._recv(max(deadline - time.monotonic(), 0.001))
            if event is None:
                raise ScaleConnectionError(f"no end event within {timeout}s")
            events.append(event)
            if event["type"] == "end":
                return events


def chunks(joints: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """(M,T,V,C) -> consecutive (M,size,V,C) pieces."""
    for start in range(0, joints.shape[1], size):
        yield joints[:, start:start + size]


def replay(joints: np.ndarray, url: str | None = None, api_key: str | None = None, fps: float | None = 30.0,
           chunk: int = 8, on_event: Callable[[Event], None] | None = None, **options: Any) -> list[Event]:
    """Stream a (T,V,C) or (M,T,V,C) sequence at `fps` frames per second (None = as fast as possible); `options`
    go in the start message (window, stride, ..., layout, units, confidence_threshold, mirror)."""
    arr = np.asarray(joints, np.float32)
    arr = arr[None] if arr.ndim == 3 else arr
    events: list[Event] = []

    def emit(new: list[Event]) -> None:
        events.extend(new)
        for event in new:
            if on_event:
                on_event(event)

    with StreamClient(url, api_key) as stream:
        emit([stream.start(**options)])
        began = time.monotonic()
        sent = 0
        for piece in chunks(arr, chunk):
            if fps:
                time.sleep(max(0.0, began + sent / fps - time.monotonic()))
            stream.send(piece)
            sent += piece.shape[1]
            emit(stream.poll())
        emit(stream.end())
    return events
