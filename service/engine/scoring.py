"""The one path from skeleton windows to energies in the service: preprocessing, then the micro-batcher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from model.preprocess import SkeletonShapeError, preprocess_batch, to_encoder_input
from service.deps import ServiceState
from service.engine.batcher import BatcherClosed, QueueFull
from service.engine.isolation import raise_if_failed
from service.engine.text_columns import TextColumns, fold
from service.problems import Problem, invalid
from service.registry import ClassRecord


def encoder_input(sequences: list[np.ndarray], state: ServiceState) -> tuple[np.ndarray, np.ndarray]:
    """(N,3,T',25,2) encoder input and a mask of the sequences that could be normalised."""
    try:
        x = to_encoder_input(preprocess_batch(sequences, state.preprocess))
    except SkeletonShapeError as exc:
        raise invalid(f"skeleton rejected by preprocessing: {exc}", loc=["body"], kind="bad-shape") from exc
    return x, np.isfinite(x).reshape(len(x), -1).all(axis=1)


async def submit(state: ServiceState, x: np.ndarray, records: list[ClassRecord],
                 columns: TextColumns) -> tuple[np.ndarray, np.ndarray]:
    """batcher.submit over the candidates' text columns, folded per class; 429 when full, 503 at shutdown."""
    try:
        energy, uncertainty = await state.batcher.submit(x, columns.keys, columns.rows)
        raise_if_failed(energy, uncertainty)  # a sequence that failed inside a merged run (isolation.py)
        return fold(energy, uncertainty, columns, columns.rule)
    except QueueFull as exc:
        raise Problem(429, "queue-full", str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    except BatcherClosed as exc:
        raise Problem(503, "shutting-down", str(exc), headers={"Retry-After": "1"}) from exc


def window_scorer(state: ServiceState, records: list[ClassRecord], rows: TextColumns,
                  loop: asyncio.AbstractEventLoop) -> Callable[[list[np.ndarray]], np.ndarray]:
    """A blocking ScoreWindows for model.windows.score_windows, run in a worker thread.

    Windows that cannot be normalised (no body in them) get NaN energies: the segmenter treats them as
    background instead of refusing the whole sequence.
    """

    def score(windows: list[np.ndarray]) -> np.ndarray:
        x, ok = encoder_input(windows, state)
        energy = np.full((len(windows), len(records)), np.nan)
        if ok.any():
            got, _ = asyncio.run_coroutine_threadsafe(submit(state, x[ok], records, rows), loop).result()
            energy[ok] = got
        return energy

    return score
