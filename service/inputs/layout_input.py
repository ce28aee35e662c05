"""The `layout`, `units` and `confidence_threshold` request options: validation and conversion onto NTU-25.

The rules live in model/layouts.py; this module only turns their errors into 422 problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.layouts import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    DEFAULT_LAYOUT,
    LayoutError,
    get_layout,
    resolve_units,
    to_ntu25,
    units_warning,
)
from model.plausibility import plausibility_warning
from service.problems import invalid


@dataclass(frozen=True)
class LayoutOptions:
    """How posted skeletons are laid out (validated: a known layout, units that apply to it)."""

    layout: str = DEFAULT_LAYOUT
    units: str | None = None
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD


NTU25 = LayoutOptions()


def layout_options(layout: str | None, units: str | None, threshold: float | None,
                   loc: list[str | int]) -> LayoutOptions:
    """Validated options (defaults for None); 422 naming the known layouts / allowed units otherwise."""
    opts = LayoutOptions(layout or DEFAULT_LAYOUT, units,
                         DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else float(threshold))
    try:
        resolve_units(get_layout(opts.layout), opts.units)
    except LayoutError as exc:
        raise invalid(str(exc), loc=loc, kind="bad-layout") from exc
    if not 0.0 <= opts.confidence_threshold <= 1.0:
        raise invalid(f"confidence_threshold must be in [0, 1], got {opts.confidence_threshold}", loc=loc,
                      kind="bad-layout")
    return opts


def check_layout_shape(arr: np.ndarray, opts: LayoutOptions, where: str, loc: list[str | int]) -> None:
    """422 `bad-shape` naming the layout's expected shape when rank, joints or channels do not fit it."""
    spec = get_layout(opts.layout)
    if arr.ndim not in (3, 4):
        got = f"rank {arr.ndim}"
    elif arr.shape[-2] != spec.num_joints:
        got = f"{arr.shape[-2]} joints"
    elif arr.shape[-1] not in spec.channels:
        got = f"{arr.shape[-1]} channels"
    else:
        return
    raise invalid(f"{where}: layout {spec.name!r} expects {spec.shape_text()}, got {got} (shape "
                  f"{list(arr.shape)})", loc=loc, kind="bad-shape")


def convert(arr: np.ndarray, opts: LayoutOptions, where: str, loc: list[str | int]) -> np.ndarray:
    """(M,T,V,C) of the layout -> float32 (M,T,25,3) NTU-25 metres; 422 when it cannot be converted."""
    try:
        return to_ntu25(arr, opts.layout, opts.confidence_threshold, opts.units)
    except LayoutError as exc:
        raise invalid(f"{where}: {exc}", loc=loc, kind="bad-skeleton") from exc


def sequences_warning(sequences: Sequence[np.ndarray]) -> str | None:
    """The first units or plausibility warning among converted sequences, naming the sequence when several."""
    for i, seq in enumerate(sequences):
        note = units_warning(seq) or plausibility_warning(seq)
        if note:
            return note if len(sequences) == 1 else f"sequence {i}: {note}"
    return None
