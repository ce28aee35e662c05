"""Sync and async HTTP clients of the SCALE service (httpx); both share the request builders below."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from client.calls import (
    DEFAULT_URL,
    ClassLike,
    Encoding,
    _as_spec,
    _Call,
    _class_path,
    _layout_fields,
    _recognize_call,
)
from client.detect import detect_call
from client.errors import ScaleConnectionError, ScaleError, error_from_response
from client.models import ActionClass, Recognition, parse_recognitions


class _Base:
    """Configuration shared by both clients: base URL, API key, timeout."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                 max_retries: int = 0, max_retry_wait: float = 30.0) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.url = (url or os.environ.get("SCALE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("SCALE_API_KEY") or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying a 429/503 answer, or None when it must be raised now."""
        if response.status_code not in (429, 503) or attempt >= self.max_retries:
            return None
        # every route is safe to repeat: recognize is pure, POST /classes idempotent, DELETE answers 404 at worst
        hint = error_from_response(response).retry_after
        return min(self.max_retry_wait, hint if hint is not None else 2.0 ** attempt)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, application/problem+json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        return headers

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        ctype = response.headers.get("content-type", "")
        return response.json() if "json" in ctype else response.text


class ScaleClient(_Base):
    """Blocking client: `with ScaleClient(url) as c: c.add_classes(["drink water"]); c.recognize(x)`.

    `max_retries` > 0 repeats requests answered 429/503, waiting the Retry-After seconds (at most
    `max_retry_wait`).
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, max_retries: int = 0,
                 max_retry_wait: float = 30.0) -> None:
        super().__init__(url, api_key, timeout, max_retries, max_retry_wait)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=self._headers(), transport=transport)

    def __enter__(self) -> ScaleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def _send(self, call: _Call) -> Any:
        kwargs = call.kwargs()
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(call.method, call.path, **kwargs)
            except httpx.TransportError as exc:
                raise ScaleConnectionError(f"cannot reach the SCALE service at {self.url}: {exc}") from exc
            wait = self._retry_wait(response, attempt)
            if wait is None:
                break
            time.sleep(wait)
        return self._check(response)

    def healthz(self) -> dict[str, Any]:
        """GET /healthz (liveness)."""
        return self._send(_Call("GET", "/healthz"))

    def readyz(self) -> dict[str, Any]:
        """GET /readyz; raises ServiceUnavailableError while the service is not ready."""
        return self._send(_Call("GET", "/readyz"))

    def info(self) -> dict[str, Any]:
        """GET /info: bundle manifest and execution providers."""
        return self._send(_Call("GET", "/info"))

    def metrics(self) -> str:
        """GET /metrics in the Prometheus text format."""
        return self._send(_Call("GET", "/metrics"))

    def wait_ready(self, timeout: float = 120.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll /readyz until it answers 200 or `timeout` seconds pass (then re-raise the last error)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.readyz()
            except ScaleError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(interval)

    def add_classes(self, classes: Iterable[ClassLike]) -> list[ActionClass]:
        """POST /classes: register classes (idempotent for the same text) and return them with their ids."""
        specs = [_as_spec(c).to_json() for c in classes]
        if not specs:
            raise ValueError("no classes to register")
        body = self._send(_Call("POST", "/classes", json={"classes": specs}))
        return [ActionClass.from_json(c) for c in body["classes"]]

    def list_classes(self) -> list[ActionClass]:
        """GET /classes: every registered class."""
        return [ActionClass.from_json(c) for c in self._send(_Call("GET", "/classes"))["classes"]]

    def get_class(self, class_id: str) -> ActionClass:
        """GET /classes/{id}; raises NotFoundError for an unknown id."""
        return ActionClass.from_json(self._send(_Call("GET", _class_path(class_id))))

    def delete_class(self, class_id: str) -> None:
        """DELETE /classes/{id}; raises NotFoundError for an unknown id."""
        self._send(_Call("DELETE", _class_path(class_id)))

    def reload_bundle(self, bundle_path: str | None = None) -> dict[str, Any]:
        """POST /admin/reload (API key required): swap in another bundle directory (default: the configured one)."""
        return self._send(_Call("POST", "/admin/reload", json={"bundle_path": bundle_path}))

    def recognize(self, skeleton: Any, top_k: int | None = 5, classes: Sequence[str] | None = None,
                  encoding: Encoding = "json", layout: str | None = None, units: str | None = None,
                  confidence_threshold: float | None = None, mirror: bool | None = None) -> Recognition:
        """POST /recognize for one (T,V,C) or (M,T,V,C) sequence of `layout` (default ntu25); `classes` restricts."""
        extra = _layout_fields(layout, units, confidence_threshold, mirror)
        return parse_recognitions(self._send(_recognize_call([skeleton], False, top_k, classes, encoding, extra)))[0]

    def recognize_batch(self, skeletons: Sequence[Any], top_k: int | None = 5,
                        classes: Sequence[str] | None = None, encoding: Encoding = "json",
                        layout: str | None = None, units: str | None = None,
                        confidence_threshold: float | None = None, mirror: bool | None = None) -> list[Recognition]:
        """POST /recognize with several sequences in one request; one Recognition per sequence, in order."""
        if not skeletons:
            raise ValueError("no skeletons to recognize")
        extra = _layout_fields(layout, units, confidence_threshold, mirror)
        return parse_recognitions(self._send(_recognize_call(skeletons, True, top_k, classes, encoding, extra)))


    def detect(self, skeleton: Any, layout: str | None = None, units: str | None = None,
               confidence_threshold: float | None = None, mirror: bool | None = None, **options: Any) -> dict[str, Any]:
        """POST /detect for one long (T,V,C) or (M,T,V,C) sequence of `layout` (.npy body); options as in
        docs/service.md (window, stride, classes, threshold, smooth, ...)."""
        fields = _layout_fields(layout, units, confidence_threshold, mirror)
        return self._send(detect_call(skeleton, {**fields, **options}))
