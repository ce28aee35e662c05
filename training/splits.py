"""The eight zero-shot settings (seen/unseen classes), class names and pseudo-unseen validation splits.

All indices are 0-based: class ``i`` is NTU action ``A{i+1}``. The facts live in ``training/resources``
(``splits.json`` and ``class_names/``); see docs/data.md for their provenance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

SETTINGS: tuple[str, ...] = (
    "ntu60_55_5", "ntu60_48_12", "ntu60_40_20", "ntu60_30_30",
    "ntu120_110_10", "ntu120_96_24", "ntu120_80_40", "ntu120_60_60",
)
DATASETS: dict[str, int] = {"ntu60": 60, "ntu120": 120}
NAME_VARIANTS: tuple[str, ...] = ("official", "synse", "star")
# Settings for which SynSE published a split of the seen classes (rsS_0 / rvK_0).
SYNSE_VAL_SETTINGS: tuple[str, ...] = ("ntu60_55_5", "ntu120_96_24")


@dataclass(frozen=True)
class ZeroShotSplit:
    """One zero-shot setting: sorted global class ids of the seen and unseen classes."""

    name: str
    dataset: str
    num_classes: int
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    benchmark: str
    validation_classes: tuple[int, ...] = ()  # your own dataset's pseudo-unseen classes for model selection

    @property
    def num_seen(self) -> int:
        """Number of seen (training) classes."""
        return len(self.seen)

    @property
    def num_unseen(self) -> int:
        """Number of unseen (zero-shot test) classes."""
        return len(self.unseen)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for manifests and reports."""
        return {"name": self.name, "dataset": self.dataset, "num_classes": self.num_classes,
                "benchmark": self.benchmark, "seen": list(self.seen), "unseen": list(self.unseen)}

    def validation(self, val: ValidationSplit) -> ZeroShotSplit:
        """This setting's pseudo split as a ZeroShotSplit (seen = pseudo-seen, unseen = pseudo-unseen)."""
        if sorted(val.pseudo_seen + val.pseudo_unseen) != list(self.seen):
            raise ValueError(f"validation split does not partition the seen classes of {self.name}")
        return ZeroShotSplit(name=f"{self.name}/val-{val.source}-{val.seed}", dataset=self.dataset,
                             num_classes=self.num_classes, seen=val.pseudo_seen, unseen=val.pseudo_unseen,
                             benchmark=self.benchmark)


@dataclass(frozen=True)
class ValidationSplit:
    """A split of a setting's seen classes into pseudo-seen (train) and pseudo-unseen (model selection)."""

    pseudo_seen: tuple[int, ...]
    pseudo_unseen: tuple[int, ...]
    source: str = "hash"
    seed: int = 0


def _resource_text(*parts: str) -> str:
    return resources.files("training").joinpath("resources", *parts).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _splits_json() -> dict[str, Any]:
    return json.loads(_resource_text("splits.json"))


def _check_setting(name: str) -> None:
    if name not in SETTINGS:
        raise KeyError(f"unknown zero-shot setting {name!r}; expected one of {', '.join(SETTINGS)}")


def get_split(name: str) -> ZeroShotSplit:
    """Return the zero-shot split for one of the eight SETTINGS names."""
    _check_setting(name)
    entry = _splits_json()["settings"][name]
    return ZeroShotSplit(name=name, dataset=entry["dataset"], num_classes=int(entry["num_classes"]),
                         seen=tuple(sorted(entry["seen"])), unseen=tuple(sorted(entry["unseen"])),
                         benchmark=entry["benchmark"])


def as_split(split: ZeroShotSplit | str) -> ZeroShotSplit:
    """Accept a split or its setting name."""
    return get_split(split) if isinstance(split, str) else split


@lru_cache(maxsize=8)
def _names(dataset: str, variant: str) -> tuple[str, ...]:
    lines = _resource_text("class_names", f"ntu120_{variant}.txt").splitlines()
    return tuple(line.strip() for line in lines if line.strip())[: DATASETS[dataset]]


def class_names(dataset: str, variant: str = "official") -> list[str]:
    """Class names of `dataset` (ntu60|ntu120) in index order; variant official|synse|star."""
    if dataset not in DATASETS:
        raise KeyError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if variant not in NAME_VARIANTS:
        raise KeyError(f"unknown class-name variant {variant!r}; expected one of {', '.join(NAME_VARIANTS)}")
    return list(_names(dataset, variant))


def _hash_rank(setting: str, seed: int, cls: int) -> bytes:
    return hashlib.sha256(f"scale-pseudo-unseen:{setting}:{seed}:{cls}".encode()).digest()


def pseudo_unseen_split(split: ZeroShotSplit | str, num_val: int | None = None, seed: int = 0,
                        source: Literal["hash", "synse"] = "hash") -> ValidationSplit:
    """Split the seen classes into pseudo-seen and pseudo-unseen classes, reproducibly.

    ``source="hash"``: rank each seen class c by sha256("scale-pseudo-unseen:{setting}:{seed}:{c}") and take
    the first `num_val` (default: the setting's number of unseen classes, capped so that >= 2 pseudo-seen
    remain). ``source="synse"``: SynSE's published rv5_0/rs50_0 (55/5) or rv24_0/rs72_0 (96/24).
    """
    split = as_split(split)
    seen = split.seen
    if source == "synse":
        return _synse_val(split, num_val, seed)
    if source != "hash":
        raise ValueError(f"unknown pseudo-unseen source {source!r}; expected 'hash' or 'synse'")
    if split.validation_classes and num_val is None:  # named by the dataset (training/datasets.py)
        val = split.validation_classes
        return ValidationSplit(tuple(c for c in seen if c not in val), val, source="dataset", seed=seed)
    if num_val is None:
        num_val = min(split.num_unseen, len(seen) - 2)
    if not 1 <= num_val <= len(seen) - 2:
        raise ValueError(f"num_val must be between 1 and {len(seen) - 2} for {split.name} "
                         f"({len(seen)} seen classes, >= 2 must stay pseudo-seen), got {num_val}")
    ranked = sorted(seen, key=lambda c: _hash_rank(split.name, seed, c))
    val = tuple(sorted(ranked[:num_val]))
    rest = tuple(c for c in seen if c not in set(val))
    return ValidationSplit(pseudo_seen=rest, pseudo_unseen=val, source="hash", seed=seed)


def _synse_val(split: ZeroShotSplit, num_val: int | None, seed: int) -> ValidationSplit:
    table = _splits_json()["synse_val"]
    if split.name not in table:
        raise ValueError(f"SynSE published validation splits only for {', '.join(SYNSE_VAL_SETTINGS)}, "
                         f"not {split.name}; use source='hash'")
    entry = table[split.name]
    if num_val is not None and num_val != len(entry["pseudo_unseen"]):
        raise ValueError(f"the SynSE validation split of {split.name} has {len(entry['pseudo_unseen'])} "
                         f"pseudo-unseen classes, not {num_val}")
    if seed != 0:
        raise ValueError("SynSE published one validation split (suffix _0): seed must be 0 with source='synse'")
    return ValidationSplit(pseudo_seen=tuple(sorted(entry["pseudo_seen"])),
                           pseudo_unseen=tuple(sorted(entry["pseudo_unseen"])), source="synse", seed=0)
