"""Skeleton cache from real NTU clips: protocol split, labels, layout, skipped and failed files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.config import PreprocessConfig
from model.preprocess import preprocess_sequence
from model.skeleton_io import parse_sample_name, read_skeleton
from training.readers import SkeletonCacheError, build_skeleton_cache, read_skeleton_cache
from training.readers.protocols import is_training, parse_missing_list, published_missing

T = 64  # short cache length keeps the test fast; any multiple of 4 is valid
MISSING = "S003C001P015R001A034"  # a real P015 (training) clip, listed as missing in the test's own list
MALFORMED = "S001C002P002R001A005"  # P002 is a training subject, so only the parse error keeps it out


@pytest.fixture(scope="module")
def raw_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("raw")
    for path in sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton")):
        shutil.copy(path, src / path.name)
    (src / f"{MALFORMED}.skeleton").write_text("2\r\n1\r\n7 0 0 0 0 0 0 0 0 2\r\n25\r\n0.1 0.2\r\n")
    (src / "README.txt").write_text("not a skeleton")
    return src


@pytest.fixture(scope="module")
def cache(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    missing = tmp_path_factory.mktemp("lists") / "missing.txt"
    missing.write_text(f"# test list\n{MISSING}.skeleton\n")
    out = tmp_path_factory.mktemp("cache")
    return build_skeleton_cache(raw_dir, out, benchmark="xsub", dataset="ntu60", num_frames=T, workers=2,
                                progress=False, missing_list=missing)


@pytest.mark.integration
def test_xsub_split_names_and_labels(cache) -> None:
    root = cache.root
    assert root.name == "xsub"
    train_names = (root / "train_names.txt").read_text().split()
    val_names = (root / "val_names.txt").read_text().split()
    assert train_names == ["S001C001P001R001A011", "S001C003P008R002A058"]
    assert val_names == ["S002C001P003R001A003", "S004C002P003R001A017"]
    assert cache.counts == {"train": 2, "val": 2}
    _, train_labels = read_skeleton_cache(root, "train")
    _, val_labels = read_skeleton_cache(root, "val")
    assert train_labels.tolist() == [10, 57] and val_labels.tolist() == [2, 16]  # A011, A058 | A003, A017


@pytest.mark.integration
def test_data_layout_matches_direct_preprocessing(cache, raw_dir: Path) -> None:
    for part in ("train", "val"):
        data, _ = read_skeleton_cache(cache.root, part)
        assert isinstance(data, np.memmap) and data.dtype == np.float32 and data.shape[1:] == (3, T, 25, 2)
        names = (cache.root / f"{part}_names.txt").read_text().split()
        for i, name in enumerate(names):
            ref = preprocess_sequence(read_skeleton(raw_dir / f"{name}.skeleton").joints,
                                      PreprocessConfig(num_frames=T))  # (M, T, V, C)
            for m, t, v, c in [(0, 0, 0, 0), (0, T - 1, 24, 2), (1, 5, 7, 1), (0, 17, 11, 2)]:
                assert data[i, c, t, v, m] == ref[m, t, v, c]
            assert np.array_equal(np.transpose(data[i], (3, 1, 2, 0)), ref)
            assert np.abs(data[i]).max() > 0.05  # a real motion, not a zero-filled row


@pytest.mark.integration
def test_malformed_file_reported_and_missing_sample_skipped(cache) -> None:
    failed = dict(cache.failed)
    assert list(failed) == [f"{MALFORMED}.skeleton"]
    # the file promises 2 frames of 1 body (27 lines each) but holds 5 lines: refused before any allocation
    assert f"{MALFORMED}.skeleton:2: body count 1 needs at least 27 lines" in failed[f"{MALFORMED}.skeleton"]
    assert cache.skipped_missing == (MISSING,)
    meta = json.loads((cache.root / "meta.json").read_text())
    assert meta["failed"][0]["name"] == f"{MALFORMED}.skeleton" and meta["skipped_missing"] == [MISSING]
    assert meta["counts"] == {"train": 2, "val": 2} and meta["num_frames"] == T
    assert not list(cache.root.glob("*.partial"))


@pytest.mark.integration
def test_published_list_and_other_dataset_skipped(shared_data: Path, tmp_path: Path) -> None:
    real = shared_data / "skeletons" / "ntu60_raw" / "S003C001P015R001A034.skeleton"
    shutil.copy(real, tmp_path / "S001C002P005R002A008.skeleton")  # first name of the published list
    shutil.copy(real, tmp_path / "S018C001P008R001A061.skeleton")  # an NTU-120-only sample
    cache = build_skeleton_cache(tmp_path, tmp_path / "out", dataset="ntu60", num_frames=T, workers=1,
                                 progress=False)
    assert cache.skipped_missing == ("S001C002P005R002A008",)
    assert cache.skipped_other_dataset == ("S018C001P008R001A061",)
    assert cache.counts == {"train": 0, "val": 0}
    data, labels = read_skeleton_cache(cache.root, "train")
    assert data.shape == (0, 3, T, 25, 2) and labels.shape == (0,)


@pytest.mark.unit
def test_published_missing_lists_have_the_published_sizes() -> None:
    ntu60, ntu120 = published_missing("ntu60"), published_missing("ntu120")
    assert (len(ntu60), len(ntu120)) == (302, 535)
    assert ntu60 <= ntu120
    assert all(parse_sample_name(n).setup >= 19 for n in ntu120 - ntu60)


@pytest.mark.unit
def test_missing_list_parsing() -> None:
    text = "302 of the captured samples ...\n\nS001C002P005R002A008\n# S009C001P001R001A001\nS001C002P006R001A008.skeleton\n"
    assert parse_missing_list(text) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    with pytest.raises(ValueError, match="no NTU sample names"):
        parse_missing_list("nothing here\n", source="list.txt")


@pytest.mark.unit
@pytest.mark.parametrize(("name", "dataset", "benchmark", "train"), [
    ("S001C001P001R001A011", "ntu60", "xsub", True),
    ("S002C001P003R001A003", "ntu60", "xsub", False),
    ("S001C001P001R001A011", "ntu60", "xview", False),
    ("S001C003P008R002A058", "ntu60", "xview", True),
    ("S004C002P003R001A017", "ntu60", "xview", True),
    ("S020C001P103R001A100", "ntu120", "xsub", True),
    ("S020C001P104R001A100", "ntu120", "xsub", False),
    ("S020C001P003R001A100", "ntu120", "xset", True),
    ("S021C001P001R001A100", "ntu120", "xset", False),
])
def test_protocol_assignment(name: str, dataset: str, benchmark: str, train: bool) -> None:
    assert is_training(parse_sample_name(name), dataset, benchmark) is train


@pytest.mark.unit
def test_bad_arguments_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="benchmark 'xview' is not defined for ntu120"):
        build_skeleton_cache(tmp_path, tmp_path / "o", benchmark="xview", dataset="ntu120")
    with pytest.raises(ValueError, match="num_frames must be a positive multiple of 4"):
        build_skeleton_cache(tmp_path, tmp_path / "o", num_frames=30)
    with pytest.raises(FileNotFoundError, match="skeleton folder not found"):
        build_skeleton_cache(tmp_path / "absent", tmp_path / "o")
    with pytest.raises(SkeletonCacheError, match=r"train_data\.npy: file not found"):
        read_skeleton_cache(tmp_path, "train")
    np.save(tmp_path / "val_data.npy", np.zeros((2, 3, 4, 25), dtype=np.float32))
    np.save(tmp_path / "val_label.npy", np.zeros(2, dtype=np.int64))
    with pytest.raises(SkeletonCacheError, match=r"expected \(N, 3, T, 25, 2\)"):
        read_skeleton_cache(tmp_path, "val")


@pytest.mark.unit
def test_finalize_shrinks_packed_rows_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.readers import skeleton_folder

    monkeypatch.setattr(skeleton_folder, "_COPY_CHUNK", 2)
    rows = np.arange(5 * 3 * 4 * 25 * 2, dtype=np.float32).reshape(5, 3, 4, 25, 2)
    np.save(tmp_path / "x.partial.npy", rows)
    skeleton_folder._finalize(tmp_path / "x.partial.npy", tmp_path / "x.npy", 3, 5, (3, 4, 25, 2))
    assert np.array_equal(np.load(tmp_path / "x.npy"), rows[:3])
    assert not (tmp_path / "x.partial.npy").exists()


@pytest.mark.integration
def test_official_shift_gcn_classifies_the_real_clips_from_the_cache(shared_data: Path, tmp_path: Path) -> None:
    """The cache layout is exactly the Shift-GCN input: the official X-sub weights get all five real clips right."""
    import torch

    from model.shift_gcn import load_shift_gcn

    torch.set_num_threads(1)
    cache = build_skeleton_cache(shared_data / "skeletons" / "ntu60_raw", tmp_path, num_frames=300, workers=1,
                                 progress=False)
    model = load_shift_gcn(shared_data / "shiftgcn" / "ntu_ShiftGCN_joint_xsub.pt").eval()
    for part in ("train", "val"):
        data, labels = read_skeleton_cache(cache.root, part)
        names = (cache.root / f"{part}_names.txt").read_text().split()
        with torch.no_grad():
            pred = model(torch.as_tensor(np.array(data))).argmax(1).numpy()
        assert pred.tolist() == labels.tolist() == [parse_sample_name(n).label for n in names]
    assert cache.counts == {"train": 3, "val": 2}
