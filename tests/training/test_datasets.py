"""Your own dataset: dataset.toml, label and class files, settings, and its cache built like NTU's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from model.config import PreprocessConfig
from model.preprocess import preprocess_sequence
from model.skeleton_io import read_skeleton
from training.datasets import DatasetError, load_dataset
from training.readers import build_skeleton_cache, read_skeleton_cache
from training.splits import pseudo_unseen_split
from training.synthetic import class_motion, format_skeleton

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs" / "ci_tiny.toml")
KITCHEN = ["stir", "chop", "pour", "wipe", "knead"]


def _kitchen(root: Path, toml_extra: str = "") -> Path:
    """5 non-NTU classes, 3 subjects (3 = test), one clip per (class, subject) in .npy, .json and .skeleton."""
    rng = np.random.default_rng(0)
    (root / "clips").mkdir(parents=True)
    rows = ["file,class,subject,camera"]
    for c, name in enumerate(KITCHEN):
        for subject in (1, 2, 3):
            joints = class_motion(c, 20, rng)[None]  # (1, T, 25, 3)
            suffix = (".npy", ".json", ".skeleton")[(c + subject) % 3]
            path = root / "clips" / f"{name}_{subject}{suffix}"
            if suffix == ".npy":
                np.save(path, joints)
            elif suffix == ".json":
                path.write_text(json.dumps({"skeleton": joints.tolist()}))
            else:
                path.write_bytes(format_skeleton(joints).encode("ascii"))
            rows.append(f"{path.name},{name},{subject},1")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.tsv").write_text("# kitchen actions\n" + "".join(
        f"{n}\tsomeone {n}s\tfood is prepared\n" for n in KITCHEN))
    (root / "dataset.toml").write_text(
        'name = "kitchen"\nskeletons = "clips"\ntest_values = ["3"]\n\n'
        '[settings.kitchen_3_2]\nunseen = ["pour", "knead"]\nvalidation = ["chop"]\n\n'
        '[settings.drawn]\nnum_unseen = 2\nseed = 7\n' + toml_extra)
    return root / "dataset.toml"


@pytest.mark.unit
def test_dataset_file_gives_classes_settings_and_parts(tmp_path):
    spec = load_dataset(_kitchen(tmp_path))
    assert spec.name == "kitchen" and spec.classes == tuple(KITCHEN)
    assert spec.descriptions[0] == ("someone stirs", "food is prepared")
    split = spec.split("kitchen_3_2")
    assert (split.seen, split.unseen, split.num_classes) == ((0, 1, 3), (2, 4), 5)
    val = pseudo_unseen_split(split)
    assert (val.pseudo_unseen, val.pseudo_seen, val.source) == ((1,), (0, 3), "dataset")
    # drawn setting: the 2 classes with the smallest sha256 keys, recomputed here
    keys = {c: hashlib.sha256(f"scale-unseen:kitchen:drawn:7:{c}".encode()).digest() for c in range(5)}
    assert spec.split("drawn").unseen == tuple(sorted(sorted(keys, key=keys.get)[:2]))
    assert sorted(c.part for c in spec.clips).count("val") == 5  # subject 3 is the test part
    with pytest.raises(KeyError, match="defines kitchen_3_2, drawn"):
        spec.split("nope")


@pytest.mark.unit
@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: (r / "labels.csv").write_text("file,class,subject\nx.npy,boil,1\n"), r"labels.csv:2: class 'boil'"),
    (lambda r: (r / "labels.csv").write_text("file,subject\nx.npy,1\n"), "needs a 'class' column"),
    (lambda r: (r / "classes.tsv").write_text("stir\nstir\nchop\n"), "listed twice"),
    (lambda r: (r / "dataset.toml").write_text('test_values = ["3"]\n[settings.a]\nunseen = ["pour"]\nnum_unseen = 1\n'),
     "either unseen"),
    (lambda r: (r / "dataset.toml").write_text('test_values = ["3"]\n[settings.a]\nunseen = ["pour"]\n'
                                               'validation = ["pour"]\n'), "validation classes must be seen"),
])
def test_bad_dataset_files_are_refused_naming_the_file(tmp_path, edit, message):
    _kitchen(tmp_path)
    edit(tmp_path)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path / "dataset.toml")


@pytest.mark.integration
def test_prepare_caches_every_format_as_the_preprocessing_gives(tmp_path):
    toml = _kitchen(tmp_path / "kitchen")
    out = tmp_path / "out"
    argv = ["prepare", "--config", TINY, "--set", f"data.dataset_file='{toml}'", "--set", "data.setting='kitchen_3_2'",
            "--output", str(out), "--no-progress"]
    assert main(argv) == 0
    x, y = read_skeleton_cache(out / "cache" / "xsub", "train")
    vx, vy = read_skeleton_cache(out / "cache" / "xsub", "val")
    assert x.shape == (10, 3, 16, 25, 2) and sorted(y.tolist()) == sorted([0, 1, 2, 3, 4] * 2)
    assert sorted(vy.tolist()) == [0, 1, 2, 3, 4]
    names = (out / "cache" / "xsub" / "train_names.txt").read_text().split()
    meta = json.loads((out / "cache" / "xsub" / "meta.json").read_text())
    assert meta["dataset"] == "kitchen" and meta["counts"] == {"train": 10, "val": 5} and not meta["failed"]
    for row, name in enumerate(names):  # each format's numbers, read here by hand, preprocessed
        path = next((tmp_path / "kitchen" / "clips").glob(f"{name}.*"))
        raw = (np.load(path) if path.suffix == ".npy" else read_skeleton(path).joints if path.suffix == ".skeleton"
               else np.asarray(json.loads(path.read_text())["skeleton"]))
        want = np.transpose(preprocess_sequence(raw, PreprocessConfig(num_frames=16)), (3, 1, 2, 0))
        np.testing.assert_allclose(x[row], want, rtol=1e-5, atol=1e-5)


@pytest.mark.integration
def test_real_clips_as_your_own_dataset_match_the_ntu_reader(tmp_path, shared_data):
    raw = shared_data / "skeletons" / "ntu60_raw"
    files = sorted(p.name for p in raw.glob("*.skeleton"))
    root = tmp_path / "mine"
    root.mkdir()
    names = ["wave a hand", "sit down", "brush hair", "pick up", "jump"]
    (root / "classes.tsv").write_text("\n".join(names) + "\n")
    # every clip in the training part (performer column); a dummy test row keeps the dataset valid
    (root / "labels.csv").write_text("file,class,performer\n" + "".join(
        f"{f},{names[i]},{'p9' if i == 0 else 'p1'}\n" for i, f in enumerate(files)))
    (root / "dataset.toml").write_text(f'skeletons = "{raw}"\ntest_by = "performer"\ntest_values = ["p9"]\n'
                                       '[settings.mine]\nunseen = ["jump"]\n')
    out = tmp_path / "out"
    assert main(["prepare", "--config", TINY, "--set", f"data.dataset_file='{root / 'dataset.toml'}'",
                 "--set", "data.setting='mine'", "--output", str(out), "--no-progress"]) == 0
    ours, _ = read_skeleton_cache(out / "cache" / "xsub", "train")
    ntu = build_skeleton_cache(raw, tmp_path / "ntu", "xsub", "ntu120", 16, workers=1, progress=False)
    ntu_x = np.concatenate([ntu.load("train")[0], ntu.load("val")[0]])
    ntu_names = ((tmp_path / "ntu" / "xsub" / "train_names.txt").read_text().split()
                 + (tmp_path / "ntu" / "xsub" / "val_names.txt").read_text().split())
    our_names = (out / "cache" / "xsub" / "train_names.txt").read_text().split()
    for row, name in enumerate(our_names):
        np.testing.assert_array_equal(ours[row], ntu_x[ntu_names.index(name)])
    assert len(our_names) == len(files) - 1


@pytest.mark.integration
def test_prepare_refuses_a_source_without_a_usable_clip(tmp_path, capsys):
    folder = tmp_path / "raw"
    folder.mkdir()
    joints = class_motion(0, 12, np.random.default_rng(0))[None]
    (folder / "my_clip.skeleton").write_bytes(format_skeleton(joints).encode("ascii"))  # not an NTU name
    argv = ["prepare", "--config", TINY, "--set", f"data.skeletons='{folder}'", "--output", str(tmp_path / "o"),
            "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "0 usable training and 0 usable test clips" in err and "1 unreadable" in err
    toml = _kitchen(tmp_path / "kitchen")
    for clip in (tmp_path / "kitchen" / "clips").iterdir():
        clip.write_text("broken")
    assert main(["prepare", "--config", TINY, "--set", f"data.dataset_file='{toml}'", "--set",
                 "data.setting='kitchen_3_2'", "--output", str(tmp_path / "o2"), "--no-progress"]) == 2
    assert "0 usable training" in capsys.readouterr().err


@pytest.mark.unit
def test_class_file_descriptions_become_the_texts_with_descriptions_dataset(tmp_path):
    from training.config import load_config
    from training.pipeline import descriptions_of, names_of, split_of

    toml = _kitchen(tmp_path)
    cfg = load_config(TINY, {"data.dataset_file": str(toml), "data.setting": "kitchen_3_2",
                             "text.descriptions": "dataset"})
    assert names_of(cfg) == KITCHEN and split_of(cfg).unseen == (2, 4) and cfg.data.dataset == "kitchen"
    assert descriptions_of(cfg)[4] == ["someone kneads", "food is prepared"]
    ntu = load_config(TINY, {"text.descriptions": "dataset"})
    with pytest.raises(ValueError, match="needs data.dataset_file"):
        descriptions_of(ntu)
