"""Several texts per class (label prompt plus descriptions) for training and evaluation.

Training uses them one of two ways (`text.descriptions_train`): `draw` picks one text of every class at each
step, `average` averages the class-side conditionings of all its texts. Evaluation scores every text and folds
a class's columns with model.text_aggregate (`text.descriptions_aggregate`), the rule the service uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from model.config import DEFAULT_CLIP_MODEL
from model.scorer import ClassSide, ScaleScorer
from model.text_aggregate import (
    DEFAULT_RULE,
    MEAN_CONDITIONING,
    aggregate_energies,
    check_rule,
    mean_conditionings,
)
from training.text_cache import ClassTexts, prompt_texts

TrainMode = Literal["draw", "average"]
TRAIN_MODES: tuple[str, ...] = ("draw", "average")


@dataclass(frozen=True)
class DescribedTexts:
    """Conditioning rows of every text of every class; groups[j] = class index of row j."""

    rows: ClassTexts  # (R, ...) rows, grouped by class in class order
    groups: np.ndarray  # (R,) int64
    label_prompts: tuple[str, ...]  # the label-only prompt of each class (what check_scorer_matches compares)
    train_mode: str = "draw"
    rule: str = DEFAULT_RULE

    def __post_init__(self) -> None:
        if self.train_mode not in TRAIN_MODES:
            raise ValueError(f"descriptions training mode must be draw or average, got {self.train_mode!r}")
        check_rule(self.rule)
        if len(self.groups) != len(self.rows.prompts):
            raise ValueError(f"{len(self.groups)} class indices for {len(self.rows.prompts)} text rows")

    @property
    def prompts(self) -> tuple[str, ...]:
        """The label prompts (one per class), as ClassTexts.prompts."""
        return self.label_prompts

    @property
    def weights_id(self) -> str:
        """Text-tower weights the rows were encoded with."""
        return self.rows.weights_id

    def digest(self) -> str:
        """sha256 (16 hex) over every row's class and prompt: names the text set in scorer metadata."""
        body = "\n".join(f"{g}\t{p}" for g, p in zip(self.groups.tolist(), self.rows.prompts, strict=True))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]

    def rows_of(self, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(row indices of the texts of `classes`, position in `classes` of each row's class)."""
        pos = {int(c): i for i, c in enumerate(classes)}
        rows = np.flatnonzero(np.isin(self.groups, list(pos)))
        missing = sorted(set(pos) - set(self.groups[rows].tolist()))
        if missing:
            raise ValueError(f"classes {missing[:10]} have no text")
        return rows, np.array([pos[int(g)] for g in self.groups[rows]], dtype=np.int64)


def description_prompts(
    names: list[str], descriptions: dict[int, list[str]], template: str, with_label: bool = True,
    prompt: Literal["append", "alone"] = "append",
) -> tuple[list[str], np.ndarray]:
    """(prompts, class of each prompt): per class its label prompt (when with_label) then one per description.

    prompt="append" writes `template(label). description` (model.text.make_prompt), "alone" the description only.
    """
    from model.text import make_prompt

    if prompt not in ("append", "alone"):
        raise ValueError(f"descriptions prompt must be append or alone, got {prompt!r}")
    prompts: list[str] = []
    groups: list[int] = []
    for k, name in enumerate(names):
        texts = ([make_prompt(name, template=template)] if with_label else []) + [
            make_prompt(name, description=d, template=template) if prompt == "append" else d
            for d in descriptions.get(k, [])]
        if not texts:
            raise ValueError(f"class {k} ({name!r}) has no text: give it a description or keep the label")
        prompts += texts
        groups += [k] * len(texts)
    return prompts, np.asarray(groups, dtype=np.int64)


def described_texts(
    names: list[str], descriptions: dict[int, list[str]], template: str, cache_dir: str | Path, *,
    with_label: bool = True, prompt: Literal["append", "alone"] = "append", train_mode: str = "draw",
    rule: str = DEFAULT_RULE, weights: str = "", model_name: str = DEFAULT_CLIP_MODEL,
    random_init_seed: int | None = None, device: str = "cpu", encoder: Any = None,
) -> DescribedTexts:
    """Encode (or read from cache_dir) every text of every class."""
    from model.text import make_prompt

    prompts, groups = description_prompts(names, descriptions, template, with_label, prompt)
    rows = prompt_texts(prompts, cache_dir, weights, model_name, random_init_seed, device, encoder)
    return DescribedTexts(rows, groups, tuple(make_prompt(n, template=template) for n in names), train_mode, rule)


def drawn_rows(local: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """One row index per class (0..num_classes-1), uniform among the rows whose class is `local`[row]."""
    scores = torch.rand(local.shape[0], generator=generator)
    order = torch.argsort(scores)  # a random permutation; the first row of each class in it is its draw
    first = torch.full((num_classes,), local.shape[0], dtype=torch.long)
    first.scatter_reduce_(0, local[order], torch.arange(local.shape[0]), reduce="amin")
    return order[first]


def mean_class_side(cls: ClassSide, local: torch.Tensor, num_classes: int) -> ClassSide:
    """Per-class means of per-text class-side tensors (differentiable; the torch twin of mean_conditionings)."""
    counts = torch.bincount(local, minlength=num_classes).to(cls.enc_c.dtype)

    def mean(t: torch.Tensor) -> torch.Tensor:
        total = torch.zeros((num_classes, *t.shape[1:]), dtype=t.dtype, device=t.device).index_add_(0, local, t)
        return total / counts.to(t.device).view(-1, *([1] * (t.dim() - 1)))

    return ClassSide(*(mean(t) for t in cls))


class StepTexts:
    """The (text, class_side) each training step passes to total_loss: one text per class, or all averaged."""

    def __init__(self, text: ClassTexts | DescribedTexts, classes: list[int], device: torch.device) -> None:
        self.mode = text.train_mode if isinstance(text, DescribedTexts) else "label"
        self.k = len(classes)
        if isinstance(text, DescribedTexts):
            rows, local = text.rows_of(classes)
            self.rows = tuple(torch.as_tensor(a, device=device) for a in text.rows.take(rows))
            self.local = torch.as_tensor(local)
            # the similarity term normalises it again: the sum of unit vectors points along their mean
            g = torch.nn.functional.normalize(self.rows[0], dim=-1)
            self.g_mean = torch.zeros((self.k, g.shape[1]), device=device).index_add_(0, self.local.to(device), g)
        else:
            self.rows = tuple(torch.as_tensor(a, device=device) for a in text.take(classes))

    def __call__(self, scorer: ScaleScorer, generator: torch.Generator) -> tuple[tuple[torch.Tensor, ...], Any]:
        """(text tensors of the K classes, precomputed ClassSide or None) for one step."""
        if self.mode == "label":
            return self.rows, None
        if self.mode == "draw":
            pick = drawn_rows(self.local, self.k, generator).to(self.rows[0].device)
            return tuple(t[pick] for t in self.rows), None
        side = mean_class_side(scorer.class_side(*self.rows), self.local.to(self.rows[0].device), self.k)
        # total_loss takes `side` as the class side; of the text it only reads the globals (similarity term)
        return (self.g_mean, self.rows[1][: self.k], self.rows[2][: self.k]), side


@torch.no_grad()
def described_energies(
    scorer: ScaleScorer, x: np.ndarray, texts: DescribedTexts, classes: list[int], batch_size: int = 256
) -> np.ndarray:
    """Energies (N, len(classes)): every text scored, then folded per class by texts.rule (aggregate_energies)."""
    scorer.eval()
    dev = next(scorer.parameters()).device
    rows, local = texts.rows_of(classes)
    g, tok, mask = (torch.as_tensor(a, device=dev) for a in texts.rows.take(rows))
    cls = scorer.class_side(g, tok, mask)
    if texts.rule == MEAN_CONDITIONING:
        means = mean_conditionings({f: t.cpu().numpy() for f, t in cls._asdict().items()}, local)
        cls = ClassSide(**{f: torch.as_tensor(v, device=dev) for f, v in means.items()})
    out = []
    for i in range(0, len(x), batch_size):
        e = scorer.energy(torch.as_tensor(x[i:i + batch_size], device=dev), cls).cpu().numpy()
        out.append(aggregate_energies(e, local if texts.rule != MEAN_CONDITIONING else np.arange(len(classes)),
                                      texts.rule).astype(np.float32))
    return np.concatenate(out, axis=0) if out else np.zeros((0, len(classes)), np.float32)
