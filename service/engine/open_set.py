"""The bundle's open-set threshold and the `open_set` field of /recognize and /detect answers."""

from __future__ import annotations

from typing import Any

from model.openset import decide
from service.deps import ServiceState


def bundle_threshold(state: ServiceState) -> float | None:
    """The threshold calibrated at export (manifest `open_set.threshold`), None for older bundles."""
    info = state.bundle.manifest.open_set or {}
    value = info.get("threshold")
    return float(value) if value is not None else None


def open_set_field(state: ServiceState, best_energy: float, override: float | None) -> dict[str, Any]:
    """{accepted, threshold, source}: is the best class confident enough or "none of the registered classes"."""
    return decide(best_energy, bundle_threshold(state), override).as_dict()
