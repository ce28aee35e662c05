"""NTU evaluation protocols (X-sub, X-view, X-set) and the published missing-skeleton lists."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from model.skeleton_io import NtuSampleName

# NTU-60 X-sub training performers (Shahroudy et al. 2016); NTU-120 adds its own (Liu et al. 2019).
XSUB_TRAIN_NTU60: frozenset[int] = frozenset(
    {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
XSUB_TRAIN_NTU120: frozenset[int] = XSUB_TRAIN_NTU60 | frozenset(
    {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91,
     92, 93, 94, 95, 97, 98, 100, 103})
XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset({2, 3})
# benchmarks defined for each dataset; X-view is an NTU-60 protocol, X-set an NTU-120 one
BENCHMARKS: dict[str, tuple[str, ...]] = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}
# NTU-60 is setups S001-S017 and actions A001-A060; NTU-120 adds S018-S032 and A061-A120
LIMITS: dict[str, tuple[int, int]] = {"ntu60": (17, 60), "ntu120": (32, 120)}
_SAMPLE_RE = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")


def check_benchmark(dataset: str, benchmark: str) -> None:
    """Raise a clear ValueError unless `benchmark` is a protocol of `dataset`."""
    if dataset not in BENCHMARKS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(BENCHMARKS)}")
    if benchmark not in BENCHMARKS[dataset]:
        raise ValueError(f"benchmark {benchmark!r} is not defined for {dataset}; "
                         f"expected one of {', '.join(BENCHMARKS[dataset])}")


def in_dataset(sample: NtuSampleName, dataset: str) -> bool:
    """Whether the sample belongs to `dataset` (NTU-60 is a subset of NTU-120)."""
    max_setup, max_action = LIMITS[dataset]
    return sample.setup <= max_setup and sample.action <= max_action


def is_training(sample: NtuSampleName, dataset: str, benchmark: str) -> bool:
    """Whether the sample is in the training part of `benchmark` (else the test/val part)."""
    check_benchmark(dataset, benchmark)
    if benchmark == "xsub":
        return sample.performer in (XSUB_TRAIN_NTU60 if dataset == "ntu60" else XSUB_TRAIN_NTU120)
    if benchmark == "xview":
        return sample.camera in XVIEW_TRAIN_CAMERAS
    return sample.setup % 2 == 0  # xset: even setup ids train


def parse_missing_list(text: str, source: str = "<text>") -> frozenset[str]:
    """Sample names (SsssCcccPpppRrrrAaaa) found in a missing-skeleton list; '#' lines and prose ignored."""
    names = set()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        names.update(_SAMPLE_RE.findall(line))
    if not names:
        raise ValueError(f"{source}: no NTU sample names (SsssCcccPpppRrrrAaaa) found in the missing list")
    return frozenset(names)


@lru_cache(maxsize=2)
def published_missing(dataset: str) -> frozenset[str]:
    """The published missing-skeleton samples: NTU-60 302, NTU-120 535 (shahroudy/NTURGB-D lists)."""
    if dataset not in LIMITS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(LIMITS)}")
    res = resources.files("training").joinpath("resources", "missing_skeletons", f"{dataset}.txt")
    return parse_missing_list(res.read_text(encoding="utf-8"), source=str(res))


def load_missing(dataset: str, missing_list: str | Path | None) -> frozenset[str]:
    """The published list for `dataset`, or the names in a user-supplied list file."""
    if missing_list is None:
        return published_missing(dataset)
    path = Path(missing_list)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing-skeleton list not found")
    return parse_missing_list(path.read_text(encoding="utf-8", errors="replace"), source=str(path))
