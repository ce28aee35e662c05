"""The skeleton input options shared by every route: `layout`, `units`, `confidence_threshold`, `mirror`.

One pydantic model (`LayoutOptionsIn`) is the only place the options are declared: /recognize's JSON body,
/detect's JSON body and query, and the /streams start message all inherit it (/recognize's .npy query
parameters are checked against it by tests/service/routers/test_api_input_options.py). The rules live in
model/layouts.py; this module turns their errors into 422 problems that point at the faulty field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from model.layout_check import order_warning, shape_hint
from model.layouts import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    DEFAULT_LAYOUT,
    LAYOUTS,
    LayoutError,
    get_layout,
    resolve_units,
    to_ntu25,
    units_warning,
)
from model.plausibility import plausibility_warning
from service.problems import invalid

MIRROR_DOC = ("true: the input is a mirror view (selfie cameras, NTU's RGB videos); x is negated and left/right "
              "joints swapped before mapping")


class LayoutOptionsIn(BaseModel):
    """How posted skeletons are laid out (every route that reads skeletons accepts these fields)."""

    model_config = ConfigDict(extra="forbid")
    layout: str | None = Field(None, description=f"joint layout of the skeletons: {', '.join(LAYOUTS)} "
                               "(default ntu25; see GET /info)")
    units: str | None = Field(None, description="3D: m (default), cm or mm; 2D layouts: px")
    confidence_threshold: float | None = Field(None, description="joints below it count as missing (0.3)")
    mirror: bool | None = Field(None, description=MIRROR_DOC)

    def layout_options(self, prefix: list[str | int]) -> LayoutOptions:
        """The validated options; 422 problems located at prefix + [field]."""
        return layout_options(self.layout, self.units, self.confidence_threshold, prefix, self.mirror)


@dataclass(frozen=True)
class LayoutOptions:
    """How posted skeletons are laid out (validated: a known layout, units that apply to it)."""

    layout: str = DEFAULT_LAYOUT
    units: str | None = None
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    mirror: bool = False


NTU25 = LayoutOptions()


def layout_options(layout: str | None, units: str | None, threshold: float | None, prefix: list[str | int],
                   mirror: bool | None = None) -> LayoutOptions:
    """Validated options (defaults for None); 422 naming the known layouts / allowed units at the field."""
    opts = LayoutOptions(layout or DEFAULT_LAYOUT, units,
                         DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else float(threshold), bool(mirror))
    try:
        spec = get_layout(opts.layout)
    except LayoutError as exc:
        raise invalid(str(exc), loc=[*prefix, "layout"], kind="bad-layout") from exc
    try:
        resolve_units(spec, opts.units)
    except LayoutError as exc:
        raise invalid(str(exc), loc=[*prefix, "units"], kind="bad-layout") from exc
    if not 0.0 <= opts.confidence_threshold <= 1.0:
        raise invalid(f"confidence_threshold must be in [0, 1], got {opts.confidence_threshold}",
                      loc=[*prefix, "confidence_threshold"], kind="bad-layout")
    return opts


def check_layout_shape(arr: np.ndarray, opts: LayoutOptions, where: str, loc: list[str | int]) -> None:
    """422 `bad-shape` naming the layout's expected shape (and the layouts that fit) when the array does not fit."""
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
                  f"{list(arr.shape)}){shape_hint(arr.shape)}", loc=loc, kind="bad-shape")


def convert(arr: np.ndarray, opts: LayoutOptions, where: str, loc: list[str | int],
            notes: list[str] | None = None) -> np.ndarray:
    """(M,T,V,C) of the layout -> float32 (M,T,25,3) NTU-25 metres; 422 when it cannot be converted.

    With `notes`, warnings about the input (joint order, units) are appended to it, prefixed by `where`.
    """
    try:
        ntu = to_ntu25(arr, opts.layout, opts.confidence_threshold, opts.units, opts.mirror)
    except LayoutError as exc:
        raise invalid(f"{where}: {exc}", loc=loc, kind="bad-skeleton") from exc
    if notes is not None:
        for note in (order_warning(arr, opts.layout, opts.confidence_threshold),
                     units_warning(ntu) or plausibility_warning(ntu)):
            if note:
                notes.append(f"{where}: {note}")
    return ntu
