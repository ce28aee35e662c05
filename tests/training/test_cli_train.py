"""`scale` training subcommands: overrides, the feature-folder path, and bad inputs stopping before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from cli.train import parse_override
from training.splits import get_split, pseudo_unseen_split
from training.synthetic import write_ctrgcn_npz, write_synthetic_feature_folder

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs" / "ci_tiny.toml")
SPLIT = get_split("ntu60_55_5")
# a few seen classes incl. two of the (hash) pseudo-unseen ones, and two unseen classes
PSEUDO_UNSEEN = list(pseudo_unseen_split(SPLIT).pseudo_unseen)
SEEN_FEW = [0, 1, 2, 3, *PSEUDO_UNSEEN[:2]]
UNSEEN_FEW = [10, 11]


@pytest.fixture()
def features(tmp_path: Path) -> Path:
    return write_synthetic_feature_folder(tmp_path / "feats", SEEN_FEW, UNSEEN_FEW, per_class=6)


def scale(*argv: str) -> int:
    return main([*argv, "--no-progress"])


def no_checkpoints(root: Path) -> bool:
    return not list(root.rglob("*.pt"))


@pytest.mark.unit
def test_parse_override_reads_toml_values():
    assert parse_override("eval.seeds=[0, 1]") == ("eval.seeds", [0, 1])
    assert parse_override("scorer.lr=1e-3") == ("scorer.lr", 1e-3)
    assert parse_override("data.setting=ntu60_48_12") == ("data.setting", "ntu60_48_12")
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE"):
        parse_override("eval.seeds")


@pytest.mark.integration
def test_feature_folder_route_trains_scorer_and_evaluates(features, tmp_path, tmp_path_factory):
    out = tmp_path / "out"
    cache = tmp_path_factory.getbasetemp() / "scale_text_cache"  # shared with test_pipeline_e2e
    args = ("--config", TINY, "--set", f"data.features='{features}'", "--set", f"text.cache_dir='{cache}'",
            "--output", str(out))
    assert scale("train-scorer", *args) == 0
    assert (out / "scorer" / "seed0" / "scorer.pt").is_file()
    assert scale("evaluate", *args) == 0
    res = json.loads((out / "results.json").read_text())["ntu60_55_5"]
    assert 0.0 <= res["summary"]["zsl_top1"]["mean"] <= 100.0
    assert set(res["summary"]) == {"zsl_top1", "gzsl_seen", "gzsl_unseen", "gzsl_h",
                                   "open_auroc", "open_fpr95", "open_accuracy"}
    assert res["runs"][0]["selected_epoch"] in (1, 2, 3)
    assert scale("ablate", *args) == 0
    rows = json.loads((out / "ablation" / "ablation.json").read_text())["variants"]
    assert list(rows) == ["elbo_only", "full"]  # configs/ci_tiny.toml [ablation]
    assert rows["elbo_only"]["config"]["use_scale_loss"] is False and rows["full"]["config"]["use_scale_loss"]


@pytest.mark.integration
def test_model_selection_never_reads_the_test_features(features, tmp_path, tmp_path_factory):
    """Replacing ztest/gtest by other features must not change the selected epoch or the trained weights."""
    import shutil

    import torch

    other = tmp_path / "other_test_features"
    shutil.copytree(features, other)
    rng = np.random.default_rng(7)
    for name in ("ztest.npy", "gtest.npy"):
        np.save(other / name, rng.normal(size=np.load(other / name).shape).astype(np.float32))
    cache = tmp_path_factory.getbasetemp() / "scale_text_cache"
    metas, states = [], []
    for folder, out in ((features, tmp_path / "a"), (other, tmp_path / "b")):
        assert scale("train-scorer", "--config", TINY, "--set", f"data.features='{folder}'", "--set",
                     f"text.cache_dir='{cache}'", "--output", str(out)) == 0
        state = torch.load(out / "scorer" / "seed0" / "scorer.pt", weights_only=True)
        metas.append(state["meta"])
        states.append(state["model"])
    assert metas[0]["val_history"] == metas[1]["val_history"]
    assert metas[0]["selected_epoch"] == metas[1]["selected_epoch"]
    assert states[0].keys() == states[1].keys() and all(torch.equal(states[0][k], states[1][k]) for k in states[0])


@pytest.mark.unit
def test_evaluate_refuses_a_scorer_made_for_another_setting_or_prompts():
    from types import SimpleNamespace

    from training.stages import check_scorer_matches

    texts = SimpleNamespace(prompts=("a", "b"), weights_id="random-init:seed=0")
    good = {"setting": SPLIT.name, "seen": list(SPLIT.seen), "prompts": ["a", "b"], "weights_id": texts.weights_id}
    check_scorer_matches(Path("s.pt"), good, SPLIT, texts)  # matching: no error
    for change, match in (({"setting": "ntu60_48_12"}, "trained for ntu60_48_12, not ntu60_55_5"),
                          ({"prompts": ["a", "c"]}, "other class prompts"),
                          ({"weights_id": "sha256:abc"}, "text weights sha256:abc")):
        with pytest.raises(ValueError, match=match):
            check_scorer_matches(Path("s.pt"), {**good, **change}, SPLIT, texts)


def _bad(tmp_path: Path, kind: str) -> tuple[list[str], str]:
    """Arguments that must fail, and a fragment of the message they must print."""
    feats = write_synthetic_feature_folder(tmp_path / "feats", SEEN_FEW, UNSEEN_FEW, per_class=3)
    base = ["--config", TINY, "--output", str(tmp_path / "out")]
    use = ["--set", f"data.features='{feats}'"]
    if kind == "unseen_in_train":
        labels = np.load(feats / "train_label.npy")
        labels[0] = 10
        np.save(feats / "train_label.npy", labels)
        return ["train-scorer", *base, *use], "labels [10] are not seen classes"
    if kind == "seen_in_ztest":
        labels = np.load(feats / "z_label.npy")
        labels[-1] = 0
        np.save(feats / "z_label.npy", labels)
        return ["train-scorer", *base, *use], "not unseen classes"
    if kind == "missing_file":
        (feats / "ztest.npy").unlink()
        return ["train-scorer", *base, *use], "ztest.npy"
    if kind == "wrong_shape":
        np.save(feats / "train.npy", np.zeros((len(np.load(feats / "train_label.npy")), 128), np.float32))
        return ["train-scorer", *base, *use], "(N, 256)"
    if kind == "wrong_dtype":
        np.save(feats / "train_label.npy", np.load(feats / "train_label.npy").astype(np.float32))
        return ["train-scorer", *base, *use], "integer"
    if kind == "pickle":
        np.save(feats / "train.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
        return ["train-scorer", *base, *use], "pickle"
    if kind == "missing_folder":
        return ["pipeline", *base, "--set", f"data.features='{tmp_path / 'nope'}'"], "not found"
    if kind == "unknown_key":
        return ["train-scorer", *base, *use, "--set", "scorer.learning_rate=0.1"], "unknown keys in [scorer]"
    if kind == "bad_setting":
        return ["train-scorer", *base, *use, "--set", "data.setting=ntu60_50_10"], "unknown zero-shot setting"
    if kind == "no_clip_weights":  # the real loading path: no random tower, a CLIP file that is not there
        real = tmp_path / "real.toml"
        real.write_text(Path(TINY).read_text().replace("random_init_seed = 0", ""))
        return (["train-scorer", "--config", str(real), "--output", str(tmp_path / "out"), *use, "--set",
                 f"text.weights='{tmp_path / 'clip.pt'}'"],
                f"does not exist: {tmp_path / 'clip.pt'} (the path came from `weights` in the [text] section")
    if kind == "missing_skeletons":
        return ["pipeline", *base, "--set", f"data.skeletons='{tmp_path / 'raw'}'"], "not found"
    if kind == "npz_class_out_of_range":
        npz = write_ctrgcn_npz(tmp_path / "x.npz", [0, 70], num_classes=120, per_class=1, num_frames=8)
        return ["pipeline", *base, "--set", f"data.skeletons='{npz}'"], "has class 70"
    if kind == "no_pseudo_unseen_samples":
        keep = ~np.isin(np.load(feats / "train_label.npy"), PSEUDO_UNSEEN)
        for name in ("train.npy", "train_label.npy"):
            np.save(feats / name, np.load(feats / name)[keep])
        return ["train-scorer", *base, *use], "needs training samples of the pseudo-unseen classes"
    if kind == "cache_of_other_dataset":  # an NTU-60 cache has no label >= 60 that would flag it for NTU-120
        cache = tmp_path / "cache" / "xsub"
        cache.mkdir(parents=True)
        for part, labels in (("train", [4, 13, 0, 1]), ("val", [4, 13, 0, 1])):
            np.save(cache / f"{part}_data.npy", np.zeros((4, 3, 16, 25, 2), np.float32))
            np.save(cache / f"{part}_label.npy", np.array(labels, np.int64))
        (cache / "meta.json").write_text(json.dumps({"dataset": "ntu60", "num_frames": 16}))
        return (["train-encoder", *base, "--set", f"data.cache='{tmp_path / 'cache'}'", "--set",
                 "data.setting=ntu120_110_10"], "holds ntu60 clips but data.setting=ntu120_110_10")
    if kind == "bad_device":
        return ["train-scorer", *base, *use, "--set", "scorer.device='gpu'"], "scorer.device = 'gpu' is not a torch device"
    if kind == "evaluate_without_scorer":
        return ["evaluate", *base, *use], "run `scale train-scorer` first"
    raise AssertionError(kind)


BAD = ["unseen_in_train", "seen_in_ztest", "missing_file", "wrong_shape", "wrong_dtype", "pickle",
       "missing_folder", "unknown_key", "bad_setting", "no_clip_weights", "missing_skeletons",
       "npz_class_out_of_range", "evaluate_without_scorer", "no_pseudo_unseen_samples", "cache_of_other_dataset",
       "bad_device"]


@pytest.mark.unit
@pytest.mark.parametrize("kind", BAD)
def test_bad_input_stops_with_a_clear_error_before_training(kind, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SCALE_CLIP_WEIGHTS", raising=False)
    argv, fragment = _bad(tmp_path, kind)
    assert scale(*argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and fragment in err, err
    assert no_checkpoints(tmp_path)


@pytest.mark.unit
def test_paper_config_holds_the_papers_settings():
    from training.config import load_config

    cfg = load_config(REPO / "configs" / "paper.toml")
    enc, sc, m = cfg.encoder, cfg.scorer, cfg.scorer.model
    assert (enc.lr, enc.momentum, enc.nesterov, enc.epochs, enc.batch_size) == (0.1, 0.9, True, 140, 64)
    assert (enc.milestones, enc.weight_decay, enc.linear_weight_decay, enc.ypos_grad_rule) == \
        ((60, 80, 100), 1e-4, 1e-3, True)
    assert (sc.lr, sc.weight_decay, sc.batch_size, sc.beta_cycles, sc.selection) == \
        (1e-4, 1e-3, 256, 4, "pseudo_unseen")
    assert (m.alpha, m.beta_u, m.tau, m.gamma, m.proto_temperature, m.lambda_scale, m.lambda_proto) == \
        (1.0, 0.5, 1.0, 2.0, 0.2, 1.0, 0.5)
    assert len(cfg.eval.seeds) >= 3 and cfg.text.template == "The Human Action of {label}"


@pytest.mark.unit
@pytest.mark.parametrize("override, match", [
    ({"data.num_frames": 30}, "multiple of 4"),
    ({"text.template": "no placeholder"}, "{label}"),
    ({"scorer.model.latent_dim": 2}, "latent_dim"),
    ({"encoder.milestones": [80, 60]}, "increasing"),
    ({"typo": 1}, "unknown top-level keys"),
    ({"eval.seeds": 5}, "eval.seeds must be a list, got 5"),
    ({"encoder.epochs": "abc"}, "encoder.epochs must be an int, got 'abc'"),
    ({"encoder.epochs": True}, "encoder.epochs must be an int, got True"),
    ({"encoder.milestones": [1, "a"]}, r"encoder.milestones\[1\] must be an int"),
    ({"scorer.selection": "best"}, "scorer.selection must be one of 'pseudo_unseen', 'last'"),
    ({"scorer.model": 3}, r"\[scorer.model\] must be a table"),
    ({"data.setting.x": 1}, "cannot set data.setting.x: setting is a value, not a section"),
    ({"scorer.model.alpha": "abc"}, "scorer.model.alpha must be a float, got 'abc'"),
    ({"scorer.model.negatives": "every"}, "scorer.model.negatives must be one of 'batch', 'all_seen'"),
])
def test_config_errors_name_the_problem(override, match):
    from training.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=match):
        load_config(TINY, override)


@pytest.mark.unit
def test_config_values_get_their_field_types():
    from training.config import load_config

    cfg = load_config(TINY, {"scorer.lr": 1, "ablation.alphas": [0, 2], "eval.seeds": [3, 4]})
    assert cfg.scorer.lr == 1.0 and isinstance(cfg.scorer.lr, float)
    assert cfg.ablation.alphas == (0.0, 2.0) and all(isinstance(a, float) for a in cfg.ablation.alphas)
    assert cfg.eval.seeds == (3, 4) and cfg.text.random_init_seed == 0


@pytest.mark.unit
def test_npz_clips_are_resampled_over_their_valid_frames():
    from training.prepare_npz import resample_clip

    clip = np.zeros((3, 20, 25, 2), np.float32)
    clip[0, :10, 0, 0] = np.arange(1, 11)  # 10 valid frames holding their own index + 1
    out = resample_clip(clip, 4)
    assert out.shape == (3, 4, 25, 2) and out[0, :, 0, 0].tolist() == [1.0, 4.0, 7.0, 10.0]
