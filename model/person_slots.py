"""Which preprocessed sequences have an absent second person (numpy only: the serving path needs no torch)."""

from __future__ import annotations

import numpy as np


def second_person_absent(x: np.ndarray) -> np.ndarray:
    """(N, C, T, V, M) encoder input -> (N,) bool: True where person slot 1 is all zeros."""
    if x.ndim != 5 or x.shape[-1] < 2:
        raise ValueError(f"expected (N, C, T, V, M>=2) encoder input, got shape {x.shape}")
    return ~np.any(x[..., 1].reshape(len(x), -1), axis=1)
