"""SCALE scorer training: resumable epochs, cyclical beta, cosine LR, pseudo-unseen model selection."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from model.config import ScaleConfig
from model.losses import cyclical_beta, total_loss
from model.scorer import ScaleScorer
from training.checkpoint import (
    CheckpointError,
    append_metrics,
    load_checkpoint,
    read_metrics,
    rng_state,
    save_checkpoint,
    set_rng_state,
    truncate_metrics,
)
from training.config import ScorerTrainConfig
from training.description_texts import DescribedTexts, StepTexts, described_energies
from training.text_cache import ClassTexts


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; anything else is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class FitResult:
    """A trained scorer and what happened while training it."""

    scorer: ScaleScorer
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_top1: float | None = None


@torch.no_grad()
def class_energies(
    scorer: ScaleScorer, x: np.ndarray, text: ClassTexts | DescribedTexts, classes: list[int], batch_size: int = 256
) -> np.ndarray:
    """Deterministic inference energies (N, len(classes)) of features x against `classes`.

    With several texts per class (DescribedTexts) every text is scored and folded by its aggregation rule.
    """
    if isinstance(text, DescribedTexts):
        return described_energies(scorer, x, text, classes, batch_size)
    scorer.eval()
    dev = next(scorer.parameters()).device
    g, tok, mask = (torch.as_tensor(a, device=dev) for a in text.take(classes))
    cls = scorer.class_side(g, tok, mask)
    out = [scorer.energy(torch.as_tensor(x[i:i + batch_size], device=dev), cls).cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out, axis=0) if out else np.zeros((0, len(classes)), np.float32)


def zsl_top1(scorer: ScaleScorer, x: np.ndarray, y: np.ndarray, text: ClassTexts | DescribedTexts,
             classes: list[int]) -> float:
    """Top-1 accuracy (%) of argmin-energy among `classes` for samples x with global labels y."""
    if len(x) == 0:
        raise ValueError("no samples to evaluate")
    pred = np.asarray(classes)[class_energies(scorer, x, text, classes).argmin(axis=1)]
    return float((pred == y).mean() * 100.0)


def _fingerprint(cfg: ScorerTrainConfig, seed: int, classes: list[int], x: np.ndarray,
                 text: ClassTexts | DescribedTexts) -> dict[str, Any]:
    # stop_epoch is left out on purpose: resuming a run with a later stop is the point of resuming
    digest = hashlib.sha256(np.ascontiguousarray(x[: min(len(x), 512)]).tobytes()).hexdigest()[:16]
    fp = {"cfg": repr(cfg), "seed": seed, "classes": list(classes), "n": len(x), "x": digest}
    if isinstance(text, DescribedTexts):
        fp["texts"] = f"{text.digest()}:{text.train_mode}:{text.rule}"
    return fp


def fit_scorer(
    x: np.ndarray, y: np.ndarray, classes: list[int], text: ClassTexts | DescribedTexts, cfg: ScorerTrainConfig,
    run_dir: str | Path, seed: int = 0, stop_epoch: int | None = None,
    val: tuple[np.ndarray, np.ndarray, list[int]] | None = None, resume: bool = False, progress: bool = True,
) -> FitResult:
    """Train a ScaleScorer on features x (N,256) with global labels y over the training `classes`.

    The LR (cosine) and beta (cyclical) schedules always span cfg.epochs; `stop_epoch` ends training early
    so that a retrain for the selected number of epochs sees exactly the schedule the selection run saw.
    With `val` = (x, y, classes), ZSL top-1 among those classes is measured after every epoch and the
    best epoch's weights are kept in best.pt.
    """
    run_dir = Path(run_dir)
    classes = sorted(int(c) for c in classes)
    stop = cfg.epochs if stop_epoch is None else int(stop_epoch)
    if not 1 <= stop <= cfg.epochs:
        raise ValueError(f"stop_epoch must be in 1..{cfg.epochs}, got {stop}")
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"scorer training needs samples with one label each, got {len(x)} features and {len(y)} labels")
    lut = {c: i for i, c in enumerate(classes)}
    if set(np.unique(y).tolist()) - set(lut):
        raise ValueError(f"training labels outside the training classes: {sorted(set(np.unique(y).tolist()) - set(lut))}")
    device = pick_device(cfg.device)
    torch.manual_seed(seed)
    scorer = ScaleScorer(cfg.model).to(device)
    opt = torch.optim.AdamW(scorer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    gen = torch.Generator().manual_seed(seed)  # shuffling and reparameterisation noise
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(np.array([lut[int(c)] for c in y]), dtype=torch.long)
    step_texts = StepTexts(text, classes, device)
    text_gen = torch.Generator().manual_seed(seed + 2)  # which text of each class a `draw` step uses
    result = FitResult(scorer)
    start = 1
    last_path, metrics_path = run_dir / "last.pt", run_dir / "metrics.jsonl"
    fp = _fingerprint(cfg, seed, classes, x, text)
    if resume and last_path.is_file():
        state = load_checkpoint(last_path)  # cpu: RNG states must stay CPU tensors
        if state["fingerprint"] != fp:
            raise CheckpointError(f"{last_path} belongs to a different run (config/seed/data differ); "
                                  "delete it or drop --resume")
        scorer.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["gen"])
        noise.set_state(state["noise"])
        if "text_gen" in state:
            text_gen.set_state(state["text_gen"])
        set_rng_state(state["rng"])
        start = int(state["epoch"]) + 1
        if start - 1 > stop:
            raise CheckpointError(f"{last_path} is at epoch {start - 1}, past the requested stop epoch {stop}")
        result.best_epoch, result.best_val_top1 = int(state["best_epoch"]), state["best_val_top1"]
        truncate_metrics(metrics_path, start - 1)
    elif metrics_path.is_file():
        metrics_path.unlink()
    for epoch in range(start, stop + 1):
        scorer.train()
        perm = torch.randperm(len(x), generator=gen)
        sums = {"total": 0.0, "nelbo": 0.0, "scale": 0.0, "proto": 0.0, "u": 0.0}
        bar = tqdm(range(steps_per_epoch), desc=f"scorer {run_dir.name} epoch {epoch}/{stop}",
                   disable=not progress, leave=False)
        for step in bar:
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            beta = cyclical_beta((epoch - 1) * steps_per_epoch + step, total_steps, cfg.beta_cycles, cfg.beta_ratio)
            step_text, side = step_texts(scorer, text_gen)
            out = total_loss(scorer, xt[idx].to(device), yt[idx].to(device), step_text, cfg.model, beta,
                             generator=noise, class_side=side)
            if not torch.isfinite(out.total):
                raise FloatingPointError(f"non-finite scorer loss at epoch {epoch} step {step}")
            opt.zero_grad(set_to_none=True)
            out.total.backward()
            opt.step()
            sched.step()
            for key, val_ in zip(sums, (out.total, out.nelbo, out.scale, out.proto, out.uncertainty), strict=True):
                sums[key] += float(val_.detach()) / steps_per_epoch
            bar.set_postfix(loss=f"{float(out.total.detach()):.3f}")
        record: dict[str, Any] = {"epoch": epoch, "lr_end": sched.get_last_lr()[0], "beta_end": beta, **sums}
        if val is not None:
            record["val_top1"] = zsl_top1(scorer, val[0], val[1], text, val[2])
            if result.best_val_top1 is None or record["val_top1"] > result.best_val_top1:
                result.best_epoch, result.best_val_top1 = epoch, record["val_top1"]
                save_checkpoint(run_dir / "best.pt", {"model": scorer.state_dict(), "epoch": epoch})
        else:
            result.best_epoch = epoch
        append_metrics(metrics_path, record)
        save_checkpoint(last_path, {
            "model": scorer.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "gen": gen.get_state(), "noise": noise.get_state(), "text_gen": text_gen.get_state(),
            "rng": rng_state(), "epoch": epoch,
            "best_epoch": result.best_epoch, "best_val_top1": result.best_val_top1, "fingerprint": fp,
        })
    result.history = read_metrics(metrics_path)
    return result


def save_scorer(path: str | Path, scorer: ScaleScorer, meta: dict[str, Any]) -> Path:
    """Final scorer file: state_dict, ScaleConfig dict and metadata (classes, text, selection)."""
    return save_checkpoint(path, {"model": {k: v.cpu() for k, v in scorer.state_dict().items()},
                                  "scale_config": scorer.cfg.to_dict(), "meta": meta})


def load_scorer(path: str | Path, device: str = "cpu") -> tuple[ScaleScorer, dict[str, Any]]:
    """Rebuild a ScaleScorer from save_scorer's file (weights-only load, strict keys)."""
    state = load_checkpoint(path, map_location=device)
    if "scale_config" not in state or "model" not in state:
        raise CheckpointError(f"{path} is not a scorer checkpoint (no scale_config/model)")
    scorer = ScaleScorer(ScaleConfig.from_dict(state["scale_config"])).to(device)
    scorer.load_state_dict(state["model"], strict=True)
    scorer.eval()
    return scorer, state.get("meta", {})


def train_scorer(
    x: np.ndarray, y: np.ndarray, split: Any, texts: ClassTexts | DescribedTexts, cfg: ScorerTrainConfig,
    out_dir: str | Path,
    seed: int = 0, resume: bool = False, progress: bool = True, extra_meta: dict[str, Any] | None = None,
) -> tuple[ScaleScorer, dict[str, Any]]:
    """The full protocol on seen-class training features; writes <out_dir>/scorer.pt and returns (scorer, meta).

    selection="pseudo_unseen": train on the pseudo-seen classes, pick the epoch with the best ZSL top-1 on
    the pseudo-unseen classes' training samples (the test set is never looked at), then either retrain on
    all seen classes for that many epochs (final="retrain_all_seen") or keep the pseudo-seen model's
    best-epoch weights (final="pseudo_seen_model"). selection="last": train on all seen classes for
    cfg.epochs and keep the last epoch.
    """
    from training.splits import pseudo_unseen_split

    out_dir = Path(out_dir)
    seen = sorted(split.seen)
    check_training_labels(y, seen, "scorer training features")
    meta: dict[str, Any] = {"seed": seed, "selection": cfg.selection, "final": cfg.final, "seen": seen,
                            "unseen": sorted(split.unseen), "setting": split.name,
                            "prompts": list(texts.prompts), "weights_id": texts.weights_id, **(extra_meta or {})}
    if isinstance(texts, DescribedTexts):  # several texts per class: name the set and how it was used
        meta["descriptions"] = {"digest": texts.digest(), "train": texts.train_mode, "rule": texts.rule,
                                "texts": len(texts.groups)}
    if cfg.selection == "pseudo_unseen":
        vs = pseudo_unseen_split(split, num_val=cfg.num_val or None, seed=cfg.val_seed, source=cfg.val_source)
        ps, pu = np.isin(y, vs.pseudo_seen), np.isin(y, vs.pseudo_unseen)
        if not pu.any() or not ps.any():
            raise ValueError(f"model selection needs training samples of both pseudo-seen and pseudo-unseen "
                             f"classes; pseudo-unseen {list(vs.pseudo_unseen)} has {int(pu.sum())}, "
                             f"pseudo-seen has {int(ps.sum())}")
        sel = fit_scorer(x[ps], y[ps], list(vs.pseudo_seen), texts, cfg, out_dir / "select", seed,
                         val=(x[pu], y[pu], list(vs.pseudo_unseen)), resume=resume, progress=progress)
        meta.update(selected_epoch=sel.best_epoch, val_top1=sel.best_val_top1,
                    pseudo_unseen=list(vs.pseudo_unseen), val_history=sel.history)
        if cfg.final == "retrain_all_seen":
            scorer = fit_scorer(x, y, seen, texts, cfg, out_dir / "final", seed, stop_epoch=sel.best_epoch,
                                resume=resume, progress=progress).scorer
        else:
            scorer = sel.scorer
            scorer.load_state_dict(load_checkpoint(out_dir / "select" / "best.pt")["model"])
    else:
        fit = fit_scorer(x, y, seen, texts, cfg, out_dir / "final", seed, resume=resume, progress=progress)
        scorer = fit.scorer
        meta.update(selected_epoch=fit.best_epoch)
    save_scorer(out_dir / "scorer.pt", scorer, meta)
    return scorer, meta


def check_training_labels(y: np.ndarray, seen: list[int], what: str) -> None:
    """Refuse labels that are not integers of the seen classes, naming the offenders."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what}: labels must be a 1-D integer array, got shape {y.shape} dtype {y.dtype}")
    bad = sorted(set(np.unique(y).tolist()) - set(seen))
    if bad:
        raise ValueError(f"{what}: labels {bad[:10]} are not seen classes of this split")
