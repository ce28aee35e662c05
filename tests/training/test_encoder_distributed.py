"""Two processes under torchrun (gloo, CPU) train the encoder as one process does at the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training.splits import get_split

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("encoder_worker.py")
# float64 on both sides: what is left is summation order, ~1e-13 here; a per-process batch norm is ~1e-1
TOLERANCE = 1e-8


def _cache(root: Path) -> Path:
    split, rng = get_split("ntu60_55_5"), np.random.default_rng(0)
    xsub = root / "xsub"
    xsub.mkdir(parents=True)
    for part, labels in (("train", np.array(split.seen[:4] * 4)), ("val", np.array([*split.unseen[:2], *split.seen[:4]]))):
        x = rng.normal(size=(len(labels), 3, 8, 25, 2)) + (labels % 5)[:, None, None, None, None] * 0.3
        np.save(xsub / f"{part}_data.npy", x.astype(np.float32))
        np.save(xsub / f"{part}_label.npy", labels.astype(np.int64))
    (xsub / "meta.json").write_text(json.dumps({"dataset": "ntu60"}))
    return root


def _train(tmp: Path, cache: Path, processes: int, batch: int) -> subprocess.CompletedProcess:
    args = ["train-encoder", "--config", str(REPO / "configs/ci_tiny.toml"), "--no-progress",
            "--output", str(tmp / f"p{processes}"), "--set", f"data.cache='{cache}'", "--set", "data.num_frames=8",
            "--set", "scorer.selection='last'", "--set", f"encoder.batch_size={batch}", "--set", "encoder.epochs=2",
            "--set", "compute.threads=1"]
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [sys.executable])
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, str(WORKER), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.integration
def test_two_processes_equal_one_process_at_the_same_global_batch(tmp_path):
    cache = _cache(tmp_path / "cache")
    one = _train(tmp_path, cache, 1, 8)
    two = _train(tmp_path, cache, 2, 4)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]
    assert "Grad strides do not match" not in two.stderr
    assert two.stdout.strip() == str(tmp_path / "p2" / "encoder" / "encoder.pt")  # printed once, by rank 0
    a = torch.load(tmp_path / "p1/encoder/encoder.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "p2/encoder/encoder.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    moved = 0
    for key in a:
        if a[key].is_floating_point():
            scale = max(float(a[key].abs().max()), 1.0)  # biases ahead of a batch norm stay ~1e-17
            assert float((a[key] - b[key]).abs().max()) <= TOLERANCE * scale, key
            moved += int("running_var" in key and not torch.allclose(a[key], torch.ones_like(a[key])))
    assert moved > 0  # the batch statistics were gathered (running stats left their initial values)
    log1 = [json.loads(line) for line in (tmp_path / "p1/encoder/encoder_metrics.jsonl").read_text().splitlines()]
    log2 = [json.loads(line) for line in (tmp_path / "p2/encoder/encoder_metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in log2] == pytest.approx([r["loss"] for r in log1], rel=1e-9)
    assert [r["train_top1"] for r in log2] == [r["train_top1"] for r in log1]
