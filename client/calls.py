"""Requests described independently of the sync/async transport that sends them (both clients build here)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import numpy as np

from client.models import ClassSpec

DEFAULT_URL = "http://127.0.0.1:8000"
Encoding = Literal["json", "npy"]
ClassLike = ClassSpec | str | dict


@dataclass
class _Call:
    """One HTTP request, described independently of the sync/async transport that sends it."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"params": self.params or None, "headers": self.headers or None}
        if self.content is not None:
            out["content"] = self.content
        elif self.json is not None:
            # allow_nan=False: NaN/Inf are not JSON; fail here with a clear message instead of at the server
            try:
                out["content"] = json.dumps(self.json, allow_nan=False).encode()
            except ValueError as exc:
                raise ValueError("skeleton contains NaN or Inf values, which JSON cannot carry") from exc
            out["headers"] = {"Content-Type": "application/json", **self.headers}
        return out


def _as_spec(item: ClassLike) -> ClassSpec:
    if isinstance(item, ClassSpec):
        return item
    if isinstance(item, str):
        return ClassSpec(item)
    if isinstance(item, dict):
        return ClassSpec(**{k: item.get(k) for k in ("label", "description", "prompt")},
                         **{k: tuple(item.get(k) or ()) for k in ("descriptions", "texts")})
    raise TypeError(f"a class must be a ClassSpec, a label string or a dict, got {type(item).__name__}")


def _as_array(skeleton: Any) -> np.ndarray:
    array = np.asarray(skeleton, dtype=np.float32)
    if array.ndim not in (3, 4):
        raise ValueError(f"a skeleton must be (T, 25, 3) or (M, T, 25, 3) for ntu25, (T, V, C) or (M, T, V, C) "
                         f"for another layout, got shape {array.shape}")
    return array


def _class_path(class_id: str) -> str:
    if not class_id:
        raise ValueError("class id must not be empty")
    return "/classes/" + quote(class_id, safe="")  # an id never escapes into another route


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array in the .npy format (no pickle) for an application/x-npy body."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _layout_fields(layout: str | None, units: str | None, confidence_threshold: float | None,
                   mirror: bool | None = None) -> dict[str, Any]:
    """The input options that were given (layout, units, confidence_threshold, mirror), as body fields.

    The service declares them once (service/inputs/layout_input.py LayoutOptionsIn) for /recognize, /detect
    and /streams; `query_params` turns them into query parameters for .npy bodies.
    """
    given = {"layout": layout, "units": units, "confidence_threshold": confidence_threshold, "mirror": mirror}
    return {k: v for k, v in given.items() if v is not None}


def query_params(fields: dict[str, Any]) -> dict[str, Any]:
    """Options as query parameters: booleans as 'true' / 'false', None dropped."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in fields.items() if v is not None}


def _recognize_call(skeletons: Sequence[Any], batch: bool, top_k: int | None, classes: Sequence[str] | None,
                    encoding: Encoding, layout_fields: dict[str, Any] | None = None) -> _Call:
    arrays = [_as_array(s) for s in skeletons]
    if encoding == "npy":
        if batch and len({a.shape for a in arrays}) > 1:
            raise ValueError("an npy batch needs sequences of one shape (N,M,T,25,3); use encoding='json' "
                             f"for sequences of different lengths (got {sorted({a.shape for a in arrays})})")
        payload = np.stack(arrays) if batch else arrays[0]
        params: dict[str, Any] = query_params(layout_fields or {})
        if top_k is not None:
            params["top_k"] = top_k
        if classes:
            params["classes"] = list(classes)  # repeated ?classes=a&classes=b
        return _Call("POST", "/recognize", content=npy_bytes(payload), params=params,
                     headers={"Content-Type": "application/x-npy"})
    if encoding != "json":
        raise ValueError(f"encoding must be 'json' or 'npy', got {encoding!r}")
    body: dict[str, Any] = {"skeletons": [a.tolist() for a in arrays]} if batch else {"skeleton": arrays[0].tolist()}
    if top_k is not None:
        body["top_k"] = top_k
    if classes:
        body["classes"] = list(classes)
    body.update(layout_fields or {})
    return _Call("POST", "/recognize", json=body)
