"""Classes with several texts in one batched run: expand candidates into text columns, fold scores back per class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.bundle import ClassTensors
from model.text_aggregate import MEAN_CONDITIONING, aggregate_scores, mean_conditionings
from service.engine.conditioning import Conditioner
from service.registry import ClassRecord, text_hash_for


@dataclass(frozen=True)
class TextColumns:
    """The scoring columns of a candidate list: their keys, their class-side rows and their class index."""

    keys: tuple[str, ...]  # batcher keys: a text's sha256, or "mean:<class id>" for averaged conditionings
    rows: dict[str, ClassTensors]
    groups: np.ndarray  # (n_columns,) index into the candidate records
    rule: str = "logmeanexp"  # how fold() combines a class's columns


async def text_columns(records: Sequence[ClassRecord], conditioner: Conditioner, rule: str) -> TextColumns:
    """One column per (class, text), or per class with its texts' conditionings averaged (mean_conditioning)."""
    by_hash = await conditioner.text_rows([t for r in records for t in r.all_texts])
    if rule == MEAN_CONDITIONING:
        rows: dict[str, ClassTensors] = {}
        for record in records:
            stacked = {name: np.stack([getattr(by_hash[text_hash_for(t)], name) for t in record.all_texts])
                       for name in ClassTensors._fields}
            mean = mean_conditionings(stacked, np.zeros(len(record.all_texts), dtype=np.int64))
            # Ids are content hashes of the text set, so the key names the averaged tensors.
            rows["mean:" + record.id] = ClassTensors(*(mean[name][0] for name in ClassTensors._fields))
        return TextColumns(tuple(rows), rows, np.arange(len(records)), rule)
    keys = tuple(text_hash_for(t) for r in records for t in r.all_texts)
    groups = np.repeat(np.arange(len(records)), [len(r.all_texts) for r in records])
    return TextColumns(keys, {k: by_hash[k] for k in keys}, groups, rule)


def fold(energy: np.ndarray, uncertainty: np.ndarray, columns: TextColumns, rule: str
         ) -> tuple[np.ndarray, np.ndarray]:
    """(energy (N, K), uncertainty (N, K)) per candidate class from the per-column scores."""
    return aggregate_scores(energy, uncertainty, columns.groups, rule)
