"""Every stage end to end on small generated data in the real formats, through the `scale` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from model.shift_gcn import load_shift_gcn
from training.checkpoint import read_metrics
from training.readers import read_feature_folder, read_skeleton_cache
from training.scorer_train import load_scorer
from training.splits import get_split, pseudo_unseen_split
from training.synthetic import write_ctrgcn_npz, write_skeleton_folder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs" / "ci_tiny.toml")
SPLIT = get_split("ntu60_55_5")
PSEUDO_UNSEEN = list(pseudo_unseen_split(SPLIT).pseudo_unseen[:2])
CLASSES = [0, 1, 2, 3, *PSEUDO_UNSEEN, 10, 11]  # 6 seen (2 of them pseudo-unseen) + 2 unseen


def text_cache(factory: pytest.TempPathFactory) -> str:
    # one random-tower encoding of the 60 class prompts per test session (it is the slowest step on CPU)
    return str(factory.getbasetemp() / "scale_text_cache")


@pytest.fixture(scope="module")
def skeleton_run(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("e2e")
    # subjects 1, 2, 4 are X-sub training performers, 3 is a test performer
    write_skeleton_folder(root / "raw", CLASSES, [1, 2, 3, 4], per_combo=2, num_frames=30,
                          two_person_labels=(3,))
    out = root / "out"
    argv = ["pipeline", "--config", TINY, "--set", f"data.skeletons='{root / 'raw'}'", "--set",
            f"text.cache_dir='{text_cache(tmp_path_factory)}'", "--output", str(out), "--no-progress"]
    assert main([*argv, "--ablate"]) == 0  # from raw skeletons on a fresh output, ablation included
    return out, argv


def test_pipeline_writes_sane_results(skeleton_run):
    out, _ = skeleton_run
    res = json.loads((out / "results.json").read_text())["ntu60_55_5"]
    assert len(res["runs"]) == 1 and 0.0 <= res["summary"]["zsl_top1"]["mean"] <= 100.0
    # 2 of 5 unseen classes have test clips, 4 clips each: accuracy is a multiple of 1/8
    assert (res["runs"][0]["zsl_top1"] * 8 / 100) == pytest.approx(round(res["runs"][0]["zsl_top1"] * 8 / 100))
    assert 1 <= res["runs"][0]["selected_epoch"] <= 3
    md = (out / "results.md").read_text()
    row = [r for r in md.splitlines() if r.startswith("| ntu60_55_5")][0]
    assert "| 84.5 |" in row and "random-init:seed=0 (NOT CLIP)" in row and "not comparable" in md
    assert len(row.split("|")) == len(md.splitlines()[0].split("|"))  # open-set columns filled too
    assert res["protocol"]["real_text_weights"] is False and 0 <= res["summary"]["open_auroc"]["mean"] <= 100


def test_pipeline_ablate_from_raw_skeletons(skeleton_run):
    out, _ = skeleton_run
    rows = json.loads((out / "ablation" / "ablation.json").read_text())["variants"]
    assert "random-init:seed=0, not the real CLIP weights" in (out / "ablation" / "ablation.md").read_text()
    assert {"elbo_only", "full"} <= set(rows)
    assert all(0.0 <= rows[r]["summary"]["zsl_top1"]["mean"] <= 100.0 for r in ("elbo_only", "full"))


def test_cache_features_and_encoder_agree(skeleton_run):
    out, _ = skeleton_run
    train_x, train_y = read_skeleton_cache(out / "cache" / "xsub", "train")
    test_x, test_y = read_skeleton_cache(out / "cache" / "xsub", "val")
    assert train_x.shape == (len(CLASSES) * 3 * 2, 3, 16, 25, 2) and len(test_y) == len(CLASSES) * 2
    folder = read_feature_folder(out / "features", SPLIT)  # validates labels against the split
    assert sorted(set(folder.train.labels.tolist())) == sorted(set(CLASSES) & set(SPLIT.seen))
    assert sorted(set(folder.ztest.labels.tolist())) == [10, 11]
    assert sorted(set(folder.val.labels.tolist())) == sorted(PSEUDO_UNSEEN)
    # gtest = the encoder's 256-d features of every test clip, recomputed here with the plain loader
    encoder = load_shift_gcn(out / "encoder" / "encoder.pt")
    assert encoder.fc.out_features == len(SPLIT.seen)
    with torch.no_grad():
        ref = encoder.forward_features(torch.as_tensor(np.array(test_x))).numpy()
    np.testing.assert_allclose(folder.gtest.features, ref, rtol=1e-4, atol=1e-5)
    assert np.array_equal(folder.gtest.labels, test_y)
    log = read_metrics(out / "encoder" / "encoder_metrics.jsonl")
    assert [r["epoch"] for r in log] == [1, 2] and all(np.isfinite(r["loss"]) for r in log)


def test_scorer_records_how_it_was_made(skeleton_run):
    out, _ = skeleton_run
    _, meta = load_scorer(out / "scorer" / "seed0" / "scorer.pt")
    assert meta["weights_id"] == "random-init:seed=0" and meta["template"] == "The Human Action of {label}"
    assert meta["seen"] == list(SPLIT.seen) and meta["num_frames"] == 16


def test_resume_of_a_finished_run_changes_nothing(skeleton_run):
    out, argv = skeleton_run
    before = (out / "results.json").read_text()
    assert main([*argv, "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["ntu60_55_5"]["runs"] == \
        json.loads(before)["ntu60_55_5"]["runs"]


def test_npz_route_runs_each_subcommand(tmp_path, tmp_path_factory):
    torch.set_num_threads(1)
    npz = write_ctrgcn_npz(tmp_path / "NTU60_CS.npz", CLASSES, per_class=2, num_frames=20)
    common = ["--config", TINY, "--set", f"data.skeletons='{npz}'", "--set",
              f"text.cache_dir='{text_cache(tmp_path_factory)}'", "--output", str(tmp_path / "out"),
              "--no-progress"]
    for command in ("prepare", "train-encoder", "extract", "train-scorer", "evaluate"):
        assert main([command, *common]) == 0, command
    x, y = read_skeleton_cache(tmp_path / "out" / "cache" / "xsub", "train")
    assert x.shape[2] == 16 and sorted(set(y.tolist())) == sorted(CLASSES)
    meta = json.loads((tmp_path / "out" / "cache" / "xsub" / "meta.json").read_text())
    assert meta["dataset"] == "ntu60" and meta["counts"] == {"train": len(y), "val": len(CLASSES) * 2}
    assert (tmp_path / "out" / "results.json").is_file()


def _structure(text: str) -> tuple[set[int], bool]:
    """Field counts of every line, and whether every line ends in CRLF."""
    lines = text.split("\r\n")
    return {len(line.split()) for line in lines if line}, text.count("\n") == text.count("\r\n")


@pytest.mark.unit
def test_generated_skeleton_files_follow_the_real_ntu_format(tmp_path, shared_data):
    from model.skeleton_io import read_skeleton

    real = (shared_data / "skeletons" / "ntu60_raw" / "S001C003P008R002A058.skeleton").read_bytes().decode()
    (path,) = write_skeleton_folder(tmp_path, [57], [8], num_frames=12, two_person_labels=(57,))
    ours = path.read_bytes().decode("ascii")
    assert _structure(ours) == _structure(real) == ({1, 10, 12}, True)
    # line count = 1 + frames x (1 + bodies x 27), as in the real files
    assert len(ours.split("\r\n")) - 1 == 1 + 12 * (1 + 2 * 27)
    seq = read_skeleton(path)
    values = [list(map(float, line.split()[:3])) for line in ours.split("\r\n") if len(line.split()) == 12]
    first_body_frame0 = np.array(values[:25])  # frame 0, body 0
    np.testing.assert_allclose(seq.joints[0, 0], first_body_frame0, rtol=1e-6)
    assert seq.joints.shape[1:] == (12, 25, 3) and seq.body_counts.tolist() == [2] * 12


def test_exported_bundle_reproduces_the_trained_networks(skeleton_run, tmp_path, tmp_path_factory):
    from model.bundle import load_bundle
    from training.scorer_train import class_energies
    from training.text_cache import cache_key, read_class_texts

    out, _ = skeleton_run
    bundle = tmp_path / "bundle"
    assert main(["export", "--encoder", str(out / "encoder" / "encoder.pt"), "--scorer",
                 str(out / "scorer" / "seed0" / "scorer.pt"), "--num-frames", "16", "--out", str(bundle)]) == 0
    b = load_bundle(bundle, providers=["CPUExecutionProvider"])
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["training"]["real_text_weights"] is False and "random text tower" in manifest["note"]
    from service.engine.model_state import untrained_text_warning

    assert "not the real CLIP weights" in untrained_text_warning(manifest["training"], manifest["text"]["weights_id"])
    assert untrained_text_warning({}, "random-init:seed=0") is None  # bundles not marked by `scale export`
    folder = read_feature_folder(out / "features", SPLIT)
    test_x, _ = read_skeleton_cache(out / "cache" / "xsub", "val")
    feature, _ = b.run_encoder(np.array(test_x))
    np.testing.assert_allclose(feature, folder.gtest.features, rtol=1e-4, atol=1e-4)
    scorer, meta = load_scorer(out / "scorer" / "seed0" / "scorer.pt")
    key = cache_key(meta["prompts"], meta["weights_id"], meta["model_name"])
    texts = read_class_texts(Path(text_cache(tmp_path_factory)) / f"text_{key}.npz")
    unseen = list(SPLIT.unseen)
    energy, _ = b.run_sample_side(folder.ztest.features, b.run_class_side(*texts.take(unseen)))
    ref = class_energies(scorer, folder.ztest.features, texts, unseen)
    np.testing.assert_allclose(energy, ref, rtol=1e-4, atol=1e-3)
    assert np.array_equal(energy.argmin(1), ref.argmin(1))
