"""The POST /detect request: a long sequence as a .npy body, options as query parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from client.calls import _Call, npy_bytes, query_params


def detect_call(skeleton: Any, options: dict[str, Any]) -> _Call:
    """The request for one long sequence; `classes` may be a list (sent as repeated parameters).

    Options are those of docs/service.md, the input options (layout, units, confidence_threshold, mirror)
    included.
    """
    arr = np.asarray(skeleton, np.float32)
    if arr.ndim not in (3, 4):
        raise ValueError(f"a sequence must be (T, V, C) or (M, T, V, C) of its layout (ntu25: (T, 25, 3)), got "
                         f"shape {arr.shape}")
    params = query_params(options)
    return _Call("POST", "/detect", content=npy_bytes(arr), params=params,
                 headers={"Content-Type": "application/x-npy"})
