"""ZSL / GZSL metrics, mean and std over seeds, and the results JSON + markdown beside the paper figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from model.scorer import ScaleScorer
from training.description_texts import DescribedTexts
from training.text_cache import ClassTexts

# SCALE paper, Table 1: ZSL top-1 (%) on the unseen classes.
PAPER_TOP1: dict[str, float] = {
    "ntu60_55_5": 84.5, "ntu60_48_12": 50.0, "ntu60_40_20": 35.5, "ntu60_30_30": 27.7,
    "ntu120_110_10": 73.6, "ntu120_96_24": 54.9, "ntu120_80_40": 32.1, "ntu120_60_60": 23.5,
}
METRICS = ("zsl_top1", "gzsl_seen", "gzsl_unseen", "gzsl_h", "open_auroc", "open_fpr95", "open_accuracy")


def top1(energy: np.ndarray, classes: list[int], y: np.ndarray) -> np.ndarray:
    """Per-sample correctness of argmin-energy over the columns `classes` (global ids)."""
    return np.asarray(classes)[np.argmin(energy, axis=1)] == np.asarray(y)


def harmonic_mean(seen: float, unseen: float) -> float:
    """H = 2su/(s+u), 0 when both are 0."""
    return 0.0 if seen + unseen == 0 else 2.0 * seen * unseen / (seen + unseen)


def evaluate_scorer(
    scorer: ScaleScorer, split: Any, texts: ClassTexts | DescribedTexts, ztest: tuple[np.ndarray, np.ndarray],
    gtest: tuple[np.ndarray, np.ndarray] | None = None, calibration: float = 0.0,
) -> dict[str, float]:
    """ZSL top-1 among unseen classes on ztest; GZSL seen/unseen/H on gtest over all classes.

    GZSL predicts argmin over seen and unseen classes of E(x, c) + calibration * [c is seen]
    (calibrated stacking; 0 = plain argmin). Accuracies are per sample, in percent. With several texts per
    class (DescribedTexts) E(x, c) folds the class's per-text energies by texts.rule (model.text_aggregate).
    """
    from training.scorer_train import class_energies

    unseen, seen = sorted(split.unseen), sorted(split.seen)
    zx, zy = ztest
    bad = sorted(set(np.unique(zy).tolist()) - set(unseen))
    if bad:
        raise ValueError(f"ztest labels {bad[:10]} are not unseen classes of {split.name}")
    result = {"zsl_top1": float(top1(class_energies(scorer, zx, texts, unseen), unseen, zy).mean() * 100)}
    if gtest is not None:
        gx, gy = gtest
        every = sorted(seen + unseen)
        energy = class_energies(scorer, gx, texts, every)
        energy = energy + calibration * np.isin(every, seen)[None, :]
        ok = top1(energy, every, gy)
        s_mask, u_mask = np.isin(gy, seen), np.isin(gy, unseen)
        s = float(ok[s_mask].mean() * 100) if s_mask.any() else float("nan")
        u = float(ok[u_mask].mean() * 100) if u_mask.any() else float("nan")
        result.update(gzsl_seen=s, gzsl_unseen=u, gzsl_h=harmonic_mean(s, u))
        if s_mask.any():
            result.update(open_set_metrics(scorer, texts, unseen, ztest, (gx[s_mask], gy[s_mask])))
    return result


def open_set_metrics(scorer: ScaleScorer, texts: ClassTexts, registered: list[int], in_set: tuple[np.ndarray, np.ndarray],
                     out_of_set: tuple[np.ndarray, np.ndarray], threshold: float | None = None) -> dict[str, float]:
    """Open set with the unseen classes registered: their test samples in-set, other classes' samples not.

    AUROC, FPR at 95 % TPR and open-set accuracy (threshold: given, else the one accepting 95 % of in-set), in %.
    """
    from model.openset import open_set_report
    from training.scorer_train import class_energies

    e_in = class_energies(scorer, in_set[0], texts, registered)
    e_out = class_energies(scorer, out_of_set[0], texts, registered)
    report = open_set_report(e_in.min(1), np.asarray(registered)[e_in.argmin(1)], in_set[1], e_out.min(1), threshold)
    return {"open_auroc": report["auroc"] * 100, "open_fpr95": report["fpr_at_95tpr"] * 100,
            "open_accuracy": report["open_set_accuracy"] * 100}


def aggregate(runs: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean and sample std (ddof=1; 0 for a single run) of every metric over runs (one per seed)."""
    out: dict[str, dict[str, Any]] = {}
    for key in METRICS:
        vals = [r[key] for r in runs if key in r and not math.isnan(r[key])]
        if not vals:
            continue
        arr = np.asarray(vals, dtype=np.float64)
        out[key] = {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
                    "values": vals}
    return out


def _cell(summary: dict[str, dict[str, Any]], key: str) -> str:
    if key not in summary:
        return "n/a"
    return f"{summary[key]['mean']:.1f} ± {summary[key]['std']:.1f}"


def text_tower_cell(weights_id: str | None) -> str:
    """How results.md names the text tower: a random one is flagged, since its figures are not the paper's."""
    if not weights_id:
        return "n/a"
    if weights_id.startswith("random-init"):
        return f"{weights_id} (NOT CLIP)"
    return f"CLIP {weights_id[:19]}"


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per setting: ours (mean ± std over seeds, %) beside the paper's figure, open-set metrics too."""
    lines = ["| setting | seeds | ZSL top-1 (ours) | paper | GZSL seen | GZSL unseen | GZSL H | open AUROC | "
             "open FPR@95 | open acc. | text tower |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    random_towers = []
    for setting, res in results.items():
        summary = res["summary"]
        paper = PAPER_TOP1.get(setting)
        weights_id = res.get("protocol", {}).get("text_weights")
        if weights_id and weights_id.startswith("random-init"):
            random_towers.append(setting)
        cells = [_cell(summary, key) for key in METRICS[1:]]
        lines.append(f"| {setting} | {len(res['runs'])} | {_cell(summary, 'zsl_top1')} | "
                     f"{'n/a' if paper is None else f'{paper:.1f}'} | {' | '.join(cells)} | "
                     f"{text_tower_cell(weights_id)} |")
    if random_towers:
        lines += ["", f"**Warning**: {', '.join(random_towers)} used a randomly initialised text tower, not the real "
                  "CLIP weights: the figures are not comparable with the paper's."]
    lines += ["", "Accuracies and open-set rates in percent; open set = the unseen classes registered, seen-class "
              "test clips to be rejected (docs/training.md)."]
    return "\n".join(lines) + "\n"


def write_results(out_dir: str | Path, results: dict[str, dict[str, Any]], stem: str = "results") -> Path:
    """Write <stem>.json and <stem>.md into out_dir; returns the JSON path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown_table(results), encoding="utf-8")
    return path
