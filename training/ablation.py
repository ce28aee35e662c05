"""Ablation runner (paper Tables 3-5): loss terms on/off, alpha sweep, beta_u = 0, gamma = 0."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.config import ScaleConfig
from training.config import ScorerTrainConfig
from training.description_texts import DescribedTexts
from training.evaluate import aggregate, evaluate_scorer
from training.scorer_train import train_scorer
from training.text_cache import ClassTexts

# Table 3 (ZSL top-1 %): -ELBO only, +L_proto, +L_SCALE, full.
PAPER_TABLE3: dict[str, dict[str, float]] = {
    "ntu60_55_5": {"elbo_only": 78.7, "proto": 81.1, "scale": 82.7, "full": 84.5},
    "ntu60_48_12": {"elbo_only": 43.3, "proto": 45.7, "scale": 46.6, "full": 50.0},
    "ntu120_110_10": {"elbo_only": 65.1, "proto": 69.0, "scale": 70.6, "full": 73.6},
    "ntu120_96_24": {"elbo_only": 47.1, "proto": 50.6, "scale": 52.2, "full": 54.9},
}
LABELS = {"elbo_only": "-ELBO only", "proto": "-ELBO + L_proto", "scale": "-ELBO + L_SCALE",
          "full": "full (L_SCALE + L_proto)", "beta_u0": "full, beta_u = 0", "gamma0": "full, gamma = 0",
          "softmin": "full, E_neg = soft-min over negatives",
          "descriptions_draw": "full + descriptions (one text per class and step)",
          "descriptions_average": "full + descriptions (texts' conditionings averaged)"}
DESCRIPTION_ROWS = ("descriptions_draw", "descriptions_average")


def variant_config(base: ScaleConfig, name: str) -> ScaleConfig:
    """The ScaleConfig of one ablation row: elbo_only, proto, scale, full, alpha<a>, beta_u0, gamma0, softmin."""
    switches = {"elbo_only": (False, False), "proto": (False, True), "scale": (True, False), "full": (True, True)}
    full = dataclasses.replace(base, use_scale_loss=True, use_proto_loss=True)
    if name in switches:
        scale, proto = switches[name]
        return dataclasses.replace(base, use_scale_loss=scale, use_proto_loss=proto)
    if name == "beta_u0":
        return dataclasses.replace(full, beta_u=0.0)
    if name == "gamma0":
        return dataclasses.replace(full, gamma=0.0)
    if name in DESCRIPTION_ROWS:  # the full model; its texts differ (run_ablation's `described`)
        return full
    if name == "softmin":  # not in the paper: the contrastive reading of E_neg (docs/method.md, open points)
        return dataclasses.replace(full, negative_pool="softmin")
    if name.startswith("alpha"):
        try:
            return dataclasses.replace(full, alpha=float(name[len("alpha"):]))
        except ValueError:
            pass
    raise ValueError(f"unknown ablation variant {name!r}; expected elbo_only, proto, scale, full, "
                     "alpha<number>, beta_u0, gamma0, softmin, descriptions_draw or descriptions_average")


def variant_names(variants: tuple[str, ...], alphas: tuple[float, ...], extra: tuple[str, ...]) -> list[str]:
    """Every row to run, in table order; validated before anything trains."""
    names = list(variants) + [f"alpha{a:g}" for a in alphas] + list(extra)
    for name in names:
        variant_config(ScaleConfig(), name)
    return list(dict.fromkeys(names))


def run_ablation(
    train: tuple[np.ndarray, np.ndarray], ztest: tuple[np.ndarray, np.ndarray],
    gtest: tuple[np.ndarray, np.ndarray] | None, split: Any, texts: ClassTexts, scorer_cfg: ScorerTrainConfig,
    names: list[str], seeds: tuple[int, ...], out_dir: str | Path, calibration: float = 0.0,
    resume: bool = False, progress: bool = True, described: DescribedTexts | None = None,
) -> dict[str, dict[str, Any]]:
    """Train and evaluate every variant over every seed; writes ablation.json and ablation.md.

    Rows descriptions_draw / descriptions_average train and evaluate the full model with `described`
    (label plus descriptions, trained that way, scored by its aggregation rule); every other row uses the
    label prompts `texts` only, so "full" is their label-only reference.
    """
    out_dir = Path(out_dir)
    configs = {name: variant_config(scorer_cfg.model, name) for name in names}
    if described is None and set(names) & set(DESCRIPTION_ROWS):
        raise ValueError("ablation rows descriptions_draw / descriptions_average need text.descriptions")
    results: dict[str, dict[str, Any]] = {}
    for name, model_cfg in configs.items():
        cfg = dataclasses.replace(scorer_cfg, model=model_cfg)
        row_texts: ClassTexts | DescribedTexts = texts
        if name in DESCRIPTION_ROWS and described is not None:
            row_texts = dataclasses.replace(described, train_mode=name.split("_", 1)[1])
        runs = []
        for seed in seeds:
            scorer, meta = train_scorer(train[0], train[1], split, row_texts, cfg, out_dir / name / f"seed{seed}",
                                        seed=seed, resume=resume, progress=progress)
            metrics = evaluate_scorer(scorer, split, row_texts, ztest, gtest, calibration)
            runs.append({**metrics, "seed": seed, "selected_epoch": meta["selected_epoch"]})
        results[name] = {"runs": runs, "summary": aggregate(runs), "config": model_cfg.to_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ablation.json").write_text(json.dumps({"setting": split.name, "variants": results,
                                                       "text_weights": texts.weights_id}, indent=2), encoding="utf-8")
    (out_dir / "ablation.md").write_text(ablation_markdown(split.name, results, texts.weights_id), encoding="utf-8")
    return results


def ablation_markdown(setting: str, results: dict[str, dict[str, Any]], weights_id: str = "") -> str:
    """Rows = variants: ZSL top-1 mean ± std over seeds, GZSL H, and the paper's Table 3 figure."""
    paper = PAPER_TABLE3.get(setting, {})
    lines = [f"Ablation on {setting} (ZSL top-1 %, mean ± std over seeds)", "",
             "| variant | ZSL top-1 | GZSL H | paper (Table 3) |", "|---|---|---|---|"]
    label_only = results.get("full", {}).get("summary", {}).get("zsl_top1")
    for name, res in results.items():
        s = res["summary"]
        z = f"{s['zsl_top1']['mean']:.1f} ± {s['zsl_top1']['std']:.1f}" if "zsl_top1" in s else "n/a"
        if name in DESCRIPTION_ROWS and label_only is not None and "zsl_top1" in s:
            z += f" ({s['zsl_top1']['mean'] - label_only['mean']:+.1f} vs label only)"
        h = f"{s['gzsl_h']['mean']:.1f} ± {s['gzsl_h']['std']:.1f}" if "gzsl_h" in s else "n/a"
        fig = f"{paper[name]:.1f}" if name in paper else "n/a"
        lines.append(f"| {LABELS.get(name, name)} | {z} | {h} | {fig} |")
    if weights_id.startswith("random-init"):
        lines += ["", f"**Warning**: text tower {weights_id}, not the real CLIP weights: not comparable with the paper."]
    return "\n".join(lines) + "\n"
