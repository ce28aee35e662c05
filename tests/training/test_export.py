"""Export: a trained scorer round-trips through a bundle in a fresh process; the official encoder stays 5/5."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cli import export as cli_export
from model.bundle import load_bundle
from model.bundle_spec import TextInfo
from model.config import PreprocessConfig, ScaleConfig
from model.losses import total_loss
from model.preprocess import preprocess_batch, to_encoder_input
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN, load_shift_gcn
from model.skeleton_io import parse_sample_name, read_skeleton
from tests.model.test_text import tiny_weights  # noqa: F401  (fixture: tiny CLIP safetensors)
from training.export import export_bundle
from training.scorer_train import save_scorer

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
TEXT = TextInfo(model_name="ViT-B-32-quickgelu", prompt_template="The Human Action of {label}",
                weights_id="random-init:seed=0")
FRAMES = 16


def scale_main(argv: list[str]) -> int:
    """`scale <argv>` with only this module's subcommands (the others belong to other stages)."""
    parser = argparse.ArgumentParser(prog="scale")
    cli_export.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def toy_text(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(k, 512)).astype(np.float32)
    tokens = rng.normal(size=(k, 77, 512)).astype(np.float32)
    mask = (np.arange(77)[None, :] <= rng.integers(3, 12, size=k)[:, None]).astype(np.float32)
    return g, tokens, mask


def trained_scorer(text, steps: int = 8) -> ScaleScorer:
    """A few AdamW steps of the real loss on features drawn around a random map of the text vectors."""
    torch.manual_seed(0)
    k = text[0].shape[0]
    rng = np.random.default_rng(1)
    means = text[0] @ rng.normal(size=(512, 256)).astype(np.float32) / 20
    y = np.repeat(np.arange(k), 16)
    x = torch.from_numpy((means[y] + rng.normal(scale=0.3, size=(len(y), 256))).astype(np.float32))
    scorer = ScaleScorer(ScaleConfig())
    opt = torch.optim.AdamW(scorer.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = total_loss(scorer, x, torch.from_numpy(y), text, beta=1.0).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    return scorer.eval()


@pytest.mark.integration
def test_round_trip_in_a_fresh_process(tmp_path: Path) -> None:
    text = toy_text(6)
    scorer = trained_scorer(text)
    torch.manual_seed(2)
    encoder = ShiftGCN(num_class=60).eval()
    out = export_bundle(tmp_path / "bundle", encoder, scorer, preprocess=PreprocessConfig(num_frames=FRAMES),
                        text=TEXT, training={"dataset": "toy", "metrics": {"top1": 0.5}})
    skel = np.random.default_rng(3).normal(size=(5, 3, FRAMES, 25, 2)).astype(np.float32)
    np.save(tmp_path / "skel.npy", skel)
    for name, arr in zip(("g", "tok", "mask"), text, strict=True):
        np.save(tmp_path / f"{name}.npy", arr)
    code = (
        "import json, sys, numpy as np; from model.bundle import load_bundle; d = sys.argv[1]; "
        "b = load_bundle(d + '/bundle', providers=['CPUExecutionProvider']); "
        "ld = lambda n: np.load(f'{d}/{n}.npy', allow_pickle=False); "
        "f, _ = b.run_encoder(ld('skel')); e, u = b.run_sample_side(f, b.run_class_side(ld('g'), ld('tok'), ld('mask'))); "
        "print(json.dumps({'version': b.version, 'pred': e.argmin(1).tolist(), 'order': np.argsort(e, 1).tolist(), "
        "'energy': e.tolist()}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                          cwd=str(REPO), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    with torch.no_grad():
        feature = encoder.forward_features(torch.from_numpy(skel))
        cls = scorer.class_side(*(torch.from_numpy(a) for a in text))
        want = scorer.energy(feature, cls).numpy()
    energy = np.asarray(got["energy"])
    assert np.all(np.abs(energy - want) <= 1e-4 + 1e-5 * np.abs(want))
    assert got["pred"] == want.argmin(1).tolist()
    gaps = np.diff(np.sort(want, 1), axis=1)
    if np.all(gaps > 2 * (1e-4 + 1e-5 * np.abs(want).max())):  # full order is only defined when ties are apart
        assert got["order"] == np.argsort(want, 1).tolist()
    assert got["version"] == json.loads((out / "manifest.json").read_text())["bundle_version"]


@pytest.mark.integration
def test_official_checkpoint_on_real_clips(tmp_path: Path, shared_data: Path) -> None:
    encoder = load_shift_gcn(shared_data / "shiftgcn" / "ntu_ShiftGCN_joint_xsub.pt")
    torch.manual_seed(0)
    out = export_bundle(tmp_path / "official", encoder, ScaleScorer(ScaleConfig()).eval(),
                        preprocess=PreprocessConfig(), text=TEXT)
    clips = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    assert len(clips) == 5
    labels = [parse_sample_name(p.name).label for p in clips]
    x = to_encoder_input(preprocess_batch([read_skeleton(p).joints for p in clips], PreprocessConfig()))
    assert x.shape == (5, 3, 300, 25, 2)
    bundle = load_bundle(out, providers=["CPUExecutionProvider"])
    feature, logits = bundle.run_encoder(x)
    with torch.no_grad():
        want_f, want_l = (t.numpy() for t in encoder.forward_both(torch.from_numpy(x)))
    np.testing.assert_allclose(logits, want_l, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(feature, want_f, rtol=1e-4, atol=1e-6)
    assert logits.argmax(1).tolist() == labels  # label = A-number in the file name minus 1


@pytest.mark.integration
def test_exported_graphs_declare_opset_and_dynamic_axes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    out = export_bundle(tmp_path / "b", ShiftGCN(num_class=7), ScaleScorer(ScaleConfig(latent_dim=16)),
                        preprocess=PreprocessConfig(num_frames=8), text=TEXT, score_temperature=3.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["score_temperature"] == 3.0 and manifest["dims"]["num_class"] == 7
    assert manifest["dims"]["latent_dim"] == 16 and manifest["preprocess"]["num_frames"] == 8
    import onnxruntime

    assert manifest["tools"]["onnxruntime"] == onnxruntime.__version__
    assert manifest["tools"]["torch"] == torch.__version__ and manifest["tools"]["numpy"] == np.__version__
    shapes = {}
    for graph in ("encoder", "class_side", "sample_side"):
        model = onnx.load(str(out / f"{graph}.onnx"))
        assert {o.domain: o.version for o in model.opset_import}[""] == 17
        for vi in list(model.graph.input) + list(model.graph.output):
            shapes[(graph, vi.name)] = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    assert shapes[("encoder", "skeleton")] == ["batch", 3, 8, 25, 2]
    assert shapes[("encoder", "logits")] == ["batch", 7]
    assert shapes[("class_side", "text_tokens")] == ["K", 77, 512]
    assert shapes[("class_side", "prior_logvar")] == ["K", 16]
    assert shapes[("sample_side", "energy")] == ["B", "K"]


@pytest.mark.unit
def test_export_refuses_to_overwrite_without_flag(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        export_bundle(tmp_path / "b", ShiftGCN(), ScaleScorer(), preprocess=PreprocessConfig(num_frames=8), text=TEXT)


@pytest.mark.integration
def test_cli_export_from_training_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    encoder = ShiftGCN(num_class=55).eval()
    # the formats training/encoder_train.py and training/scorer_train.py write
    torch.save({"state_dict": encoder.state_dict(), "seen_classes": list(range(55)), "num_class": 55,
                "num_frames": 8}, tmp_path / "encoder.pt")
    scorer = trained_scorer(toy_text(4), steps=1)
    save_scorer(tmp_path / "scorer.pt", scorer, {"setting": "ntu60_55_5", "val_top1": 0.4, "num_frames": 8,
                                                 "template": "A person is {label}", "weights_id": "random-init:seed=7"})
    args = ["export", "--encoder", str(tmp_path / "encoder.pt"), "--scorer", str(tmp_path / "scorer.pt"),
            "--out", str(tmp_path / "bundle")]
    assert scale_main([*args, "--fp16"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    bundle = load_bundle(tmp_path / "bundle", providers=["CPUExecutionProvider"], variant="fp16")
    m = bundle.manifest
    assert printed["bundle_version"] == bundle.version and printed["variants"] == ["fp32", "fp16"]
    assert m.text.weights_id == "random-init:seed=7" and m.text.prompt_template == "A person is {label}"
    assert m.num_frames == 8 and m.dims.num_class == 55 and m.training["encoder"]["seen_classes"] == list(range(55))
    assert m.training["setting"] == "ntu60_55_5" and m.training["val_top1"] == 0.4
    g, tokens, mask = toy_text(4)
    x = np.random.default_rng(0).normal(size=(3, 256)).astype(np.float32)
    e16, _ = bundle.run_sample_side(x, bundle.run_class_side(g, tokens, mask))
    with torch.no_grad():
        want = scorer.energy(torch.from_numpy(x), scorer.class_side(*(torch.from_numpy(a) for a in (g, tokens, mask))))
    assert np.max(np.abs(e16 - want.numpy())) <= 1e-2 + 1e-3 * float(want.abs().max())
    assert scale_main(args) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


@pytest.mark.unit
def test_cli_export_refuses_disagreeing_frame_lengths(tmp_path: Path) -> None:
    torch.save({"state_dict": ShiftGCN(num_class=5).state_dict(), "num_frames": 64}, tmp_path / "encoder.pt")
    save_scorer(tmp_path / "scorer.pt", ScaleScorer(), {"num_frames": 300, "weights_id": "random-init:seed=0"})
    with pytest.raises(SystemExit, match="disagree on num_frames"):
        scale_main(["export", "--encoder", str(tmp_path / "encoder.pt"), "--scorer", str(tmp_path / "scorer.pt"),
                    "--out", str(tmp_path / "bundle")])


@pytest.mark.integration
def test_cli_export_plain_state_dict_needs_config(tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(ShiftGCN(num_class=60).state_dict(), tmp_path / "encoder.pt")
    cfg = ScaleConfig(latent_dim=32)
    torch.save(ScaleScorer(cfg).state_dict(), tmp_path / "scorer.pt")
    args = ["export", "--encoder", str(tmp_path / "encoder.pt"), "--scorer", str(tmp_path / "scorer.pt"),
            "--out", str(tmp_path / "bundle"), "--num-frames", "8", "--text-weights-id", "random-init:seed=1"]
    with pytest.raises(SystemExit, match="pass --scorer-config"):
        scale_main(args)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    assert scale_main([*args, "--scorer-config", str(tmp_path / "cfg.json")]) == 0
    assert load_bundle(tmp_path / "bundle", providers=["CPUExecutionProvider"]).manifest.dims.latent_dim == 32


@pytest.mark.unit
def test_cli_export_bad_inputs_are_refused_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad input: exit 2, a `scale export:` message naming the problem, no traceback, nothing written."""
    torch.save({"state_dict": ShiftGCN(num_class=5).state_dict(), "num_frames": 8}, tmp_path / "encoder.pt")
    save_scorer(tmp_path / "scorer.pt", ScaleScorer(), {"num_frames": 8, "weights_id": "random-init:seed=0"})
    enc, sc, out = str(tmp_path / "encoder.pt"), str(tmp_path / "scorer.pt"), tmp_path / "bundle"
    cases = [
        (["--encoder", str(tmp_path / "nope.pt"), "--scorer", sc], "checkpoint not found"),
        (["--encoder", sc, "--scorer", sc], "not a Shift-GCN state_dict"),
        (["--encoder", enc, "--scorer", sc, "--clip-weights", str(tmp_path / "gone.safetensors")],
         "gone.safetensors"),
        (["--encoder", enc, "--scorer", sc, "--prompt-template", "no placeholder"], "{label}"),
        (["--encoder", enc, "--scorer", sc, "--num-frames", "30"], "multiple of 4"),
    ]
    for argv, words in cases:
        assert scale_main(["export", *argv, "--out", str(out)]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("scale export: ") and words in err and "Traceback" not in err, (argv, err)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.pt", "scorer.pt"]  # no temp dirs left


@pytest.mark.integration
def test_cli_export_adds_the_text_graph_only_for_a_matching_tower(tmp_path: Path, tiny_weights,  # noqa: F811
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--clip-weights loads the tower for text.onnx; one whose widths differ from the scorer's is refused."""
    _, weights = tiny_weights  # a tiny CLIP (8-wide embeddings) saved as safetensors: the real loading path
    torch.save({"state_dict": ShiftGCN(num_class=5).state_dict(), "num_frames": 8}, tmp_path / "encoder.pt")
    save_scorer(tmp_path / "scorer.pt", ScaleScorer(), {"num_frames": 8, "weights_id": "random-init:seed=0"})
    args = ["export", "--encoder", str(tmp_path / "encoder.pt"), "--scorer", str(tmp_path / "scorer.pt"),
            "--out", str(tmp_path / "bundle")]
    assert scale_main([*args, "--clip-weights", str(weights), "--clip-model", "scale-tiny-clip"]) == 2
    err = capsys.readouterr().err
    assert "8-wide embeddings" in err and "expects 512" in err and not (tmp_path / "bundle").exists()
    assert scale_main([*args, "--text-graph", "--text-weights-id", "sha256:" + "0" * 64]) == 2
    assert "--text-graph needs --clip-weights" in capsys.readouterr().err
    assert scale_main([*args, "--no-text-graph"]) == 0
    assert load_bundle(tmp_path / "bundle", providers=["CPUExecutionProvider"]).manifest.text_graph is None
