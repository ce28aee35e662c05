"""The carried zero-shot splits, class names and pseudo-unseen splits, checked against ../shared/data/zsar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import splits as S

pytestmark = pytest.mark.unit
TRAINING_DIR = Path(S.__file__).resolve().parent


@pytest.fixture(scope="module")
def zsar(shared_data: Path) -> Path:
    return shared_data / "zsar"


@pytest.fixture(scope="module")
def reference(zsar: Path) -> dict:
    return json.loads((zsar / "splits" / "splits.json").read_text(encoding="utf-8"))


def _npy(path: Path) -> list[int]:
    return sorted(int(v) for v in np.load(path, allow_pickle=False))


@pytest.mark.parametrize("name", S.SETTINGS)
def test_setting_matches_reference_npy_files(name: str, zsar: Path, reference: dict) -> None:
    split = S.get_split(name)
    ref = reference["settings"][name]
    assert list(split.unseen) == _npy(zsar / ref["unseen_file"])
    assert list(split.seen) == _npy(zsar / ref["seen_file"])
    assert list(split.unseen) == sorted(ref["unseen"]) and list(split.seen) == sorted(ref["seen"])
    assert (split.num_seen, split.num_unseen, split.num_classes) == (ref["num_seen"], ref["num_unseen"],
                                                                       ref["num_classes"])
    assert split.benchmark == ref["benchmark"]
    dataset, n_seen, n_unseen = name.split("_")
    assert split.dataset == dataset and (split.num_seen, split.num_unseen) == (int(n_seen), int(n_unseen))


@pytest.mark.parametrize("name", S.SETTINGS)
def test_seen_and_unseen_partition_the_class_set(name: str) -> None:
    split = S.get_split(name)
    assert not set(split.seen) & set(split.unseen)
    assert sorted(split.seen + split.unseen) == list(range(split.num_classes))


@pytest.mark.parametrize("name", S.SETTINGS)
def test_unseen_names_agree_with_reference(name: str, reference: dict) -> None:
    split = S.get_split(name)
    names = S.class_names(split.dataset, "official")
    assert [names[i] for i in split.unseen] == reference["settings"][name]["unseen_official_names"]
    assert [f"A{i + 1}" for i in split.unseen] == reference["settings"][name]["unseen_action_ids"]


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120"])
@pytest.mark.parametrize("variant", S.NAME_VARIANTS)
def test_class_names_match_reference_files(dataset: str, variant: str, zsar: Path) -> None:
    expected = (zsar / "class_names" / f"{dataset}_{variant}.txt").read_text(encoding="utf-8").splitlines()
    assert S.class_names(dataset, variant) == expected
    assert len(expected) == S.DATASETS[dataset]


def test_class_name_variants_differ_where_documented() -> None:
    assert S.class_names("ntu60", "official")[31] == "taking a selfie"
    assert S.class_names("ntu60", "synse")[31] == "taking photo"
    # the counts docs/data.md states: (synse vs star, official vs synse, official vs star)
    for dataset, counts in (("ntu120", (23, 71, 60)), ("ntu60", (13, 42, 35))):
        off, syn, star = (S.class_names(dataset, v) for v in ("official", "synse", "star"))
        assert tuple(sum(x != y for x, y in zip(a, b, strict=True)) for a, b in
                     ((syn, star), (off, syn), (off, star))) == counts


def test_bad_names_raise_clear_errors() -> None:
    with pytest.raises(KeyError, match="unknown zero-shot setting 'ntu60_50_10'"):
        S.get_split("ntu60_50_10")
    with pytest.raises(KeyError, match="unknown class-name variant 'short'"):
        S.class_names("ntu60", "short")
    with pytest.raises(KeyError, match="unknown dataset 'pku51'"):
        S.class_names("pku51")


def test_legacy_split_is_never_carried_or_referenced(zsar: Path) -> None:
    legacy_unseen = _npy(zsar / "splits" / "legacy" / "synse2020_ru12.npy")
    assert list(S.get_split("ntu60_48_12").unseen) != legacy_unseen
    carried = [p for p in TRAINING_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".json", ".txt"}]
    assert carried
    for path in carried:
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in ("legacy/", "synse2020", "rv12_0", "rs36_0"):
            assert marker not in text, f"{path} references the legacy split ({marker})"


@pytest.mark.parametrize("name", S.SETTINGS)
def test_pseudo_unseen_split_is_deterministic_disjoint_and_covers_seen(name: str) -> None:
    split = S.get_split(name)
    val = S.pseudo_unseen_split(split, seed=3)
    assert val == S.pseudo_unseen_split(name, seed=3)
    assert not set(val.pseudo_seen) & set(val.pseudo_unseen)
    assert sorted(val.pseudo_seen + val.pseudo_unseen) == list(split.seen)
    assert len(val.pseudo_unseen) == min(split.num_unseen, split.num_seen - 2)
    assert len(val.pseudo_seen) >= 2


def test_pseudo_unseen_split_depends_on_seed_and_size() -> None:
    splits = {S.pseudo_unseen_split("ntu120_96_24", seed=s).pseudo_unseen for s in range(4)}
    assert len(splits) == 4
    small = S.pseudo_unseen_split("ntu120_96_24", num_val=5, seed=0)
    assert len(small.pseudo_unseen) == 5 and len(small.pseudo_seen) == 91


def test_pseudo_unseen_split_caps_to_keep_two_pseudo_seen() -> None:
    val = S.pseudo_unseen_split("ntu60_30_30")
    assert (len(val.pseudo_unseen), len(val.pseudo_seen)) == (28, 2)
    with pytest.raises(ValueError, match="num_val must be between 1 and 28"):
        S.pseudo_unseen_split("ntu60_30_30", num_val=29)
    with pytest.raises(ValueError, match="num_val"):
        S.pseudo_unseen_split("ntu60_55_5", num_val=0)


@pytest.mark.parametrize(("name", "rv", "rs"), [("ntu60_55_5", "rv5_0", "rs50_0"),
                                                ("ntu120_96_24", "rv24_0", "rs72_0")])
def test_synse_validation_splits_equal_published_files(name: str, rv: str, rs: str, zsar: Path) -> None:
    val = S.pseudo_unseen_split(name, source="synse")
    assert list(val.pseudo_unseen) == _npy(zsar / "splits" / "synse_val_2020" / f"{rv}.npy")
    assert list(val.pseudo_seen) == _npy(zsar / "splits" / "synse_val_2020" / f"{rs}.npy")
    assert sorted(val.pseudo_seen + val.pseudo_unseen) == list(S.get_split(name).seen)
    assert val.source == "synse"


def test_synse_validation_split_refused_where_not_published() -> None:
    with pytest.raises(ValueError, match="only for ntu60_55_5, ntu120_96_24"):
        S.pseudo_unseen_split("ntu60_48_12", source="synse")
    with pytest.raises(ValueError, match="seed must be 0"):
        S.pseudo_unseen_split("ntu60_55_5", source="synse", seed=1)
    with pytest.raises(ValueError, match="unknown pseudo-unseen source"):
        S.pseudo_unseen_split("ntu60_55_5", source="random")  # type: ignore[arg-type]


def test_validation_split_as_zero_shot_split() -> None:
    split = S.get_split("ntu60_55_5")
    val = S.pseudo_unseen_split(split, source="synse")
    pseudo = split.validation(val)
    assert (pseudo.seen, pseudo.unseen) == (val.pseudo_seen, val.pseudo_unseen)
    assert pseudo.name == "ntu60_55_5/val-synse-0" and pseudo.num_classes == 60
    other = S.pseudo_unseen_split("ntu60_48_12")
    with pytest.raises(ValueError, match="does not partition the seen classes of ntu60_55_5"):
        split.validation(other)
