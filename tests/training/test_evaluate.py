"""ZSL / GZSL metrics against hand-computed values; seed aggregation; results files."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

import training.scorer_train as scorer_train
from training.evaluate import (
    PAPER_TOP1,
    aggregate,
    evaluate_scorer,
    harmonic_mean,
    markdown_table,
    top1,
    write_results,
)
from training.splits import ZeroShotSplit, get_split

pytestmark = pytest.mark.unit
SPLIT = ZeroShotSplit("toy", "toy", 4, (0, 1), (2, 3), "none")


def fake_energies(table: dict[int, list[float]]):
    """class_energies stand-in: row per sample id (feature[0]), column per requested class."""
    def energies(scorer, x, texts, classes, batch_size=256):
        return np.array([[table[int(row[0])][c] for c in classes] for row in x], dtype=np.float64)
    return energies


def test_top1_and_harmonic_mean_by_hand():
    e = np.array([[3.0, 1.0, 2.0], [0.5, 0.7, 0.1]])
    assert top1(e, [5, 7, 9], np.array([7, 5])).tolist() == [True, False]
    assert harmonic_mean(50.0, 25.0) == pytest.approx(2 * 50 * 25 / 75)
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_gzsl_and_calibration_by_hand(monkeypatch):
    # sample id -> energies against classes 0..3 (lower = better)
    table = {0: [0.0, 5, 5, 5],   # seen 0, right
             1: [5, 5, 0.5, 5],   # seen 1, predicted 2 -> wrong
             2: [0.2, 5, 1.0, 5],  # unseen 2: GZSL picks seen 0 unless seen energies are raised by > 0.8
             3: [5, 5, 5, 0.0]}   # unseen 3, right
    monkeypatch.setattr(scorer_train, "class_energies", fake_energies(table))
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 1, 2, 3])
    z = (x[2:], y[2:])
    plain = evaluate_scorer(None, SPLIT, None, z, (x, y))
    assert plain["zsl_top1"] == 100.0  # among unseen only, sample 2 -> class 2
    assert (plain["gzsl_seen"], plain["gzsl_unseen"]) == (50.0, 50.0)
    calibrated = evaluate_scorer(None, SPLIT, None, z, (x, y), calibration=1.0)
    assert (calibrated["gzsl_seen"], calibrated["gzsl_unseen"]) == (50.0, 100.0)
    assert calibrated["gzsl_h"] == pytest.approx(2 * 50 * 100 / 150)


def test_ztest_with_a_seen_label_is_refused(monkeypatch):
    monkeypatch.setattr(scorer_train, "class_energies", fake_energies({0: [0, 0, 0, 0]}))
    with pytest.raises(ValueError, match=r"ztest labels \[1\] are not unseen classes of toy"):
        evaluate_scorer(None, SPLIT, None, (np.zeros((1, 1)), np.array([1])))


def test_aggregate_mean_and_sample_std():
    runs = [{"zsl_top1": 80.0, "gzsl_h": 10.0}, {"zsl_top1": 84.0, "gzsl_h": 20.0},
            {"zsl_top1": 85.0, "gzsl_h": float("nan")}]
    s = aggregate(runs)
    assert s["zsl_top1"]["mean"] == pytest.approx(statistics.mean([80, 84, 85]))
    assert s["zsl_top1"]["std"] == pytest.approx(statistics.stdev([80, 84, 85]))
    assert s["gzsl_h"]["values"] == [10.0, 20.0]  # NaN (no samples of that kind) is left out
    assert aggregate([{"zsl_top1": 1.0}])["zsl_top1"]["std"] == 0.0


def test_results_files_hold_ours_beside_the_paper(tmp_path):
    results = {"ntu60_48_12": {"runs": [{"zsl_top1": 40.0}, {"zsl_top1": 42.0}],
                               "summary": aggregate([{"zsl_top1": 40.0}, {"zsl_top1": 42.0}])}}
    path = write_results(tmp_path, results)
    assert json.loads(path.read_text())["ntu60_48_12"]["summary"]["zsl_top1"]["mean"] == 41.0
    row = [line for line in (tmp_path / "results.md").read_text().splitlines() if "ntu60_48_12" in line][0]
    assert "| 2 | 41.0 ± 1.4 | 50.0 |" in row
    table = markdown_table(results)
    assert [line.startswith("|") for line in table.splitlines() if line] == [True, True, True, False]
    assert "Warning" not in table and "| n/a |" in row  # no text tower recorded; no open-set figures given
    results["ntu60_48_12"]["protocol"] = {"text_weights": "random-init:seed=3"}
    flagged = markdown_table(results)
    assert "| random-init:seed=3 (NOT CLIP) |" in flagged and "not comparable with the paper" in flagged


def test_paper_figures_cover_exactly_the_eight_settings():
    from training.splits import SETTINGS

    assert set(PAPER_TOP1) == set(SETTINGS)
    assert all(get_split(s).num_unseen == int(s.rsplit("_", 1)[1]) for s in PAPER_TOP1)


def test_open_set_metrics_by_hand(monkeypatch):
    table = {0: [0.0, 5, 5, 5], 1: [5, 5, 0.5, 5], 2: [0.2, 5, 1.0, 5], 3: [5, 5, 5, 0.0]}
    monkeypatch.setattr(scorer_train, "class_energies", fake_energies(table))
    x, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 2, 3])
    got = evaluate_scorer(None, SPLIT, None, (x[2:], y[2:]), (x, y))
    # unseen 2, 3 registered: in-set best energies 1.0 (right), 0.0 (right); seen samples 5.0 and 0.5 out of set
    assert got["open_auroc"] == pytest.approx(75.0)  # 1<5, 0<5, 0<0.5 of 4 pairs
    assert got["open_fpr95"] == pytest.approx(50.0)  # threshold 1.0 accepts the 0.5 one
    assert got["open_accuracy"] == pytest.approx(75.0)  # 2 in-set right, 5.0 rejected, 0.5 wrongly accepted
