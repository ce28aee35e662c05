"""`scale try-it`: the generated dataset's unseen classes are recognised far above chance from their names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from training.datasets import load_dataset
from training.tryit import LIMBS, MOTIONS, UNSEEN, write_tryit_config, write_tryit_dataset

CHANCE = 100.0 / len(UNSEEN)


@pytest.mark.unit
def test_every_word_of_an_unseen_class_is_taught_by_seen_classes(tmp_path):
    spec = load_dataset(write_tryit_dataset(tmp_path, per_subject=1, num_frames=8))
    split = spec.split("tryit_15_5")
    seen_words = {word for c in split.seen for word in spec.classes[c].split()}
    assert len(split.unseen) == len(UNSEEN) and len(spec.classes) == len(LIMBS) * len(MOTIONS)
    for c in split.unseen:
        assert set(spec.classes[c].split()) <= seen_words, spec.classes[c]
    # clips of one class differ (jitter), clips of two classes differ more than that
    clips = {c.path.name: np.load(c.path) for c in spec.clips}
    first = [clips["c00_s1_r0.npy"], clips["c00_s2_r0.npy"], clips["c01_s1_r0.npy"]]
    assert 0 < np.abs(first[0] - first[1]).mean() < np.abs(first[0] - first[2]).mean()


@pytest.mark.integration
def test_try_it_pipeline_reaches_far_above_chance(tmp_path):
    dataset = write_tryit_dataset(tmp_path / "data", per_subject=4)
    config = write_tryit_config(tmp_path, dataset)
    assert main(["pipeline", "--config", str(config), "--no-progress", "--set", "compute.threads=1"]) == 0
    result = json.loads((tmp_path / "run" / "results.json").read_text())["tryit_15_5"]
    zsl = result["summary"]["zsl_top1"]["mean"]
    assert zsl >= 2 * CHANCE, zsl  # 5 unseen classes: chance is 20 %
    assert result["protocol"]["real_text_weights"] is False
    assert "NOT CLIP" in (tmp_path / "run" / "results.md").read_text()


@pytest.mark.integration
def test_try_it_command_refuses_to_overwrite(tmp_path, capsys):
    assert main(["try-it", str(tmp_path / "t")]) == 0
    assert "scale pipeline --config" in capsys.readouterr().out
    assert Path(tmp_path / "t" / "tryit.toml").is_file()
    assert main(["try-it", str(tmp_path / "t")]) == 2
