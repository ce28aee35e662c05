"""The POST /detect request: a long sequence as a .npy body, options as query parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from client.calls import _Call, npy_bytes


def detect_call(skeleton: Any, options: dict[str, Any]) -> _Call:
    """The request for one long sequence; `classes` may be a list (sent as repeated parameters)."""
    arr = np.asarray(skeleton, np.float32)
    if arr.ndim not in (3, 4):
        raise ValueError(f"a sequence must be (T, 25, 3) or (M, T, 25, 3), got shape {arr.shape}")
    params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in options.items() if v is not None}
    return _Call("POST", "/detect", content=npy_bytes(arr), params=params,
                 headers={"Content-Type": "application/x-npy"})
