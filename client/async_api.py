"""The asyncio client: the same methods as ScaleClient (client/api.py), each a coroutine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from client.api import _Base
from client.calls import ClassLike, Encoding, _as_spec, _Call, _class_path, _layout_fields, _recognize_call
from client.detect import detect_call
from client.errors import ScaleConnectionError, ScaleError
from client.models import ActionClass, Recognition, parse_recognitions


class AsyncScaleClient(_Base):
    """asyncio client with the same methods as ScaleClient, each a coroutine."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None, max_retries: int = 0,
                 max_retry_wait: float = 30.0) -> None:
        super().__init__(url, api_key, timeout, max_retries, max_retry_wait)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, headers=self._headers(),
                                       transport=transport)

    async def __aenter__(self) -> AsyncScaleClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    async def _send(self, call: _Call) -> Any:
        kwargs = call.kwargs()
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.request(call.method, call.path, **kwargs)
            except httpx.TransportError as exc:
                raise ScaleConnectionError(f"cannot reach the SCALE service at {self.url}: {exc}") from exc
            wait = self._retry_wait(response, attempt)
            if wait is None:
                break
            await asyncio.sleep(wait)
        return self._check(response)

    async def healthz(self) -> dict[str, Any]:
        """GET /healthz (liveness)."""
        return await self._send(_Call("GET", "/healthz"))

    async def readyz(self) -> dict[str, Any]:
        """GET /readyz; raises ServiceUnavailableError while the service is not ready."""
        return await self._send(_Call("GET", "/readyz"))

    async def info(self) -> dict[str, Any]:
        """GET /info: bundle manifest and execution providers."""
        return await self._send(_Call("GET", "/info"))

    async def metrics(self) -> str:
        """GET /metrics (Prometheus text)."""
        return await self._send(_Call("GET", "/metrics"))

    async def wait_ready(self, timeout: float = 120.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll /readyz until it answers 200 or `timeout` seconds pass (then re-raise the last error)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.readyz()
            except ScaleError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(interval)

    async def add_classes(self, classes: Iterable[ClassLike]) -> list[ActionClass]:
        """POST /classes: register classes (idempotent for the same text) and return them with their ids."""
        specs = [_as_spec(c).to_json() for c in classes]
        if not specs:
            raise ValueError("no classes to register")
        body = await self._send(_Call("POST", "/classes", json={"classes": specs}))
        return [ActionClass.from_json(c) for c in body["classes"]]

    async def list_classes(self) -> list[ActionClass]:
        """GET /classes: every registered class."""
        return [ActionClass.from_json(c) for c in (await self._send(_Call("GET", "/classes")))["classes"]]

    async def get_class(self, class_id: str) -> ActionClass:
        """GET /classes/{id}; raises NotFoundError for an unknown id."""
        return ActionClass.from_json(await self._send(_Call("GET", _class_path(class_id))))

    async def delete_class(self, class_id: str) -> None:
        """DELETE /classes/{id}; raises NotFoundError for an unknown id."""
        await self._send(_Call("DELETE", _class_path(class_id)))

    async def reload_bundle(self, bundle_path: str | None = None) -> dict[str, Any]:
        """POST /admin/reload (API key required): swap in another bundle directory (default: the configured one)."""
        return await self._send(_Call("POST", "/admin/reload", json={"bundle_path": bundle_path}))

    async def recognize(self, skeleton: Any, top_k: int | None = 5, classes: Sequence[str] | None = None,
                        encoding: Encoding = "json", layout: str | None = None, units: str | None = None,
                        confidence_threshold: float | None = None, mirror: bool | None = None) -> Recognition:
        """POST /recognize for one (T,V,C) or (M,T,V,C) sequence of `layout` (default ntu25); `classes` restricts."""
        call = _recognize_call([skeleton], False, top_k, classes, encoding,
                               _layout_fields(layout, units, confidence_threshold, mirror))
        return parse_recognitions(await self._send(call))[0]

    async def recognize_batch(self, skeletons: Sequence[Any], top_k: int | None = 5,
                              classes: Sequence[str] | None = None, encoding: Encoding = "json",
                              layout: str | None = None, units: str | None = None,
                              confidence_threshold: float | None = None, mirror: bool | None = None) -> list[Recognition]:
        """POST /recognize with several sequences in one request; one Recognition per sequence, in order."""
        if not skeletons:
            raise ValueError("no skeletons to recognize")
        extra = _layout_fields(layout, units, confidence_threshold, mirror)
        return parse_recognitions(await self._send(_recognize_call(skeletons, True, top_k, classes, encoding, extra)))


    async def detect(self, skeleton: Any, layout: str | None = None, units: str | None = None,
                     confidence_threshold: float | None = None, mirror: bool | None = None,
                     **options: Any) -> dict[str, Any]:
        """POST /detect for one long (T,V,C) or (M,T,V,C) sequence of `layout` (.npy body); options as in
        docs/service.md."""
        fields = _layout_fields(layout, units, confidence_threshold, mirror)
        return await self._send(detect_call(skeleton, {**fields, **options}))
