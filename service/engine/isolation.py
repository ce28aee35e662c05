"""Failure isolation for merged inference runs: one bad sequence must not fail the requests batched with it.

The micro-batcher merges several requests into one engine call; if that call raises, every request of the
batch used to fail. `isolate_failures` wraps the engine's score function: when a merged run raises, it scores
each sequence alone, returns the good rows as they are and marks the failed rows with NaN, which the
recognize route turns into a 500 for the request that owns them (`raise_if_failed`). The other requests get
exactly the rows a run of their own would give.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from model.bundle import ClassTensors
from service.engine.batcher import ScoreFn
from service.problems import Problem

log = logging.getLogger(__name__)


def isolate_failures(score: ScoreFn) -> ScoreFn:
    """Wrap a score function so a failed run of N > 1 sequences is retried one sequence at a time."""

    def isolated(skeletons: np.ndarray, class_key: Any, classes: ClassTensors) -> tuple[np.ndarray, np.ndarray]:
        try:
            return score(skeletons, class_key, classes)
        except Exception:
            if len(skeletons) <= 1:  # nothing to separate: mark the row, its owner gets `inference-failed`
                log.exception("inference run of one sequence failed")
                nan = np.full((1, len(classes.enc_c)), np.nan, np.float32)
                return nan, nan.copy()
            log.exception("inference run of %d sequences failed; retrying them one by one", len(skeletons))
        energies, uncertainties = [], []
        num_classes = len(classes.enc_c)
        for i in range(len(skeletons)):
            try:
                energy, uncertainty = score(skeletons[i:i + 1], class_key, classes)
            except Exception:
                log.exception("sequence %d of the failed run fails on its own too", i)
                energy = uncertainty = np.full((1, num_classes), np.nan, np.float32)
            energies.append(energy)
            uncertainties.append(uncertainty)
        return np.concatenate(energies), np.concatenate(uncertainties)

    return isolated


def raise_if_failed(energy: np.ndarray, uncertainty: np.ndarray) -> None:
    """A 500 problem when any of this request's rows failed (NaN marks a failed sequence, never a result)."""
    bad = ~(np.isfinite(energy).all(axis=1) & np.isfinite(uncertainty).all(axis=1))
    if bad.any():
        raise Problem(500, "inference-failed", f"inference failed for sequence(s) {np.flatnonzero(bad).tolist()} "
                      "of this request; the other requests were answered")
