"""Several texts per class in training (draw one / average all) and evaluation (folded per model.text_aggregate)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from synthetic_problem import make_problem

from model.config import ScaleConfig
from model.scorer import ScaleScorer
from training.checkpoint import CheckpointError
from training.config import ScorerTrainConfig
from training.description_texts import (
    DescribedTexts,
    StepTexts,
    described_energies,
    drawn_rows,
    mean_class_side,
)
from training.evaluate import evaluate_scorer
from training.scorer_train import class_energies, fit_scorer, train_scorer
from training.text_cache import ClassTexts

CFG = ScorerTrainConfig(epochs=2, batch_size=64, lr=1e-3, device="cpu", selection="last")


@pytest.fixture(scope="module")
def problem():
    return make_problem(num_classes=12, num_unseen=4, per_class_train=12, per_class_test=6, seed=1)


def described(texts: ClassTexts, copies: list[np.ndarray], train_mode: str = "draw", rule: str = "logmeanexp"
              ) -> DescribedTexts:
    """Rows per class k: texts row k plus copies[i] row k added to its global and tokens (class order)."""
    k = len(texts.prompts)
    g, tok, mask, prompts, groups = [], [], [], [], []
    for c in range(k):
        for i, shift in enumerate([np.zeros_like(texts.global_emb)] + copies):
            g.append(texts.global_emb[c] + shift[c])
            tok.append(texts.tokens[c] + shift[c][None, :])
            mask.append(texts.mask[c])
            prompts.append(f"{texts.prompts[c]} #{i}")
            groups.append(c)
    rows = ClassTexts(np.stack(g).astype(np.float32), np.stack(tok).astype(np.float32),
                      np.stack(mask).astype(np.float32), tuple(prompts), texts.weights_id)
    return DescribedTexts(rows, np.asarray(groups), texts.prompts, train_mode, rule)


@pytest.mark.unit
def test_a_draw_takes_one_text_of_every_class_uniformly():
    local = torch.tensor([0, 0, 0, 1, 2, 2])
    gen = torch.Generator().manual_seed(0)
    picks = torch.stack([drawn_rows(local, 3, gen) for _ in range(3000)])
    assert torch.equal(local[picks], torch.tensor([0, 1, 2]).expand(3000, 3))
    freq = np.bincount(picks.flatten().numpy(), minlength=6) / 3000
    np.testing.assert_allclose(freq, [1 / 3, 1 / 3, 1 / 3, 1.0, 0.5, 0.5], atol=0.04)  # > 4 binomial std


@pytest.mark.unit
def test_average_mode_class_side_is_the_mean_of_each_class_texts(problem):
    _, texts, _ = problem
    torch.manual_seed(0)
    scorer = ScaleScorer(ScaleConfig())
    rng = np.random.default_rng(0)
    d = described(texts, [rng.normal(scale=0.1, size=texts.global_emb.shape) for _ in range(2)], "average")
    step = StepTexts(d, [1, 4, 7], torch.device("cpu"))
    (g, _, _), side = step(scorer, torch.Generator().manual_seed(0))
    rows = np.flatnonzero(np.isin(d.groups, [1, 4, 7]))
    with torch.no_grad():
        per_text = scorer.class_side(*(torch.as_tensor(a) for a in d.rows.take(rows)))
        for got, each in zip(side, per_text, strict=True):  # 3 texts per class, class order 1, 4, 7
            np.testing.assert_allclose(got.numpy(), each.numpy().reshape(3, 3, -1).mean(axis=1), rtol=1e-6, atol=1e-6)
        again = mean_class_side(per_text, torch.as_tensor(np.repeat([0, 1, 2], 3)), 3)
    assert all(torch.allclose(a, b) for a, b in zip(side, again, strict=True))
    unit = d.rows.global_emb[rows] / np.linalg.norm(d.rows.global_emb[rows], axis=1, keepdims=True)
    ref = unit.reshape(3, 3, -1).mean(axis=1)
    np.testing.assert_allclose(torch.nn.functional.normalize(g, dim=-1).numpy(),
                               ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-6)


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["draw", "average"])
def test_duplicated_texts_train_exactly_like_the_label_alone(problem, tmp_path, mode):
    p, texts, split = problem
    ref, _ = train_scorer(p.x_train, p.y_train, split, texts, CFG, tmp_path / "label", seed=0, progress=False)
    dup = described(texts, [np.zeros_like(texts.global_emb)], mode)  # every class: its text twice
    got, meta = train_scorer(p.x_train, p.y_train, split, dup, CFG, tmp_path / mode, seed=0, progress=False)
    assert meta["descriptions"]["train"] == mode and meta["descriptions"]["texts"] == 2 * len(texts.prompts)
    # draw picks one of two identical rows: bit-identical. average: (a + a) / 2 = a, but the class side runs
    # on twice the rows, and the CPU's matmul kernels may sum in another order for another batch size; the
    # last-bit differences grow through 300 steps (largest seen: 6.1e-5 in one of 65,536 weights on an Intel
    # Xeon with AMX, none on AMD EPYC). A second text that is not identical, only off by noise of std 0.001,
    # already moves a weight by 3.7e-3 (measured on the same machine), twelve times this tolerance.
    tol = 0.0 if mode == "draw" else 3e-4
    for name, value in ref.state_dict().items():
        torch.testing.assert_close(got.state_dict()[name], value, rtol=0.0, atol=tol,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.integration
def test_the_switch_changes_training_and_both_ways_learn(problem, tmp_path):
    p, texts, split = problem
    rng = np.random.default_rng(2)
    shift = rng.normal(scale=0.3, size=texts.global_emb.shape)
    d = described(texts, [shift, -shift])  # mean of the three texts' globals = the label's
    cfg = dataclasses.replace(CFG, epochs=8)
    chance = 100.0 / len(p.unseen)
    weights = {}
    for mode in ("draw", "average"):
        scorer, _ = train_scorer(p.x_train, p.y_train, split, dataclasses.replace(d, train_mode=mode), cfg,
                                 tmp_path / mode, seed=0, progress=False)
        assert evaluate_scorer(scorer, split, d, (p.x_test, p.y_test))["zsl_top1"] >= chance + 25.0
        weights[mode] = scorer.state_dict()
    assert any(not torch.allclose(v, weights["average"][k]) for k, v in weights["draw"].items())


def _lme(e: np.ndarray) -> np.ndarray:
    """-log mean_t exp(-E_t), by hand, shifted by the row minimum to stay finite."""
    m = e.min(axis=1, keepdims=True)
    return (m - np.log(np.mean(np.exp(-(e - m)), axis=1, keepdims=True)))[:, 0]


@pytest.mark.unit
@pytest.mark.parametrize("rule", ["logmeanexp", "min", "mean_conditioning"])
def test_evaluation_folds_each_class_texts_by_the_shared_rule(problem, rule):
    p, texts, split = problem
    torch.manual_seed(3)
    scorer = ScaleScorer(ScaleConfig()).eval()
    rng = np.random.default_rng(3)
    d = described(texts, [rng.normal(scale=0.5, size=texts.global_emb.shape) for _ in range(2)], rule=rule)
    classes = list(reversed(split.unseen))  # output columns follow `classes`, not sorted order
    got = class_energies(scorer, p.x_test, d, classes)
    assert np.array_equal(got, described_energies(scorer, p.x_test, d, classes))
    per_text = class_energies(scorer, p.x_test, d.rows, list(range(len(d.groups))))  # each text on its own
    ref = np.empty_like(got, dtype=np.float64)
    for j, c in enumerate(classes):
        cols = np.flatnonzero(d.groups == c)
        if rule == "logmeanexp":
            ref[:, j] = _lme(per_text[:, cols].astype(np.float64))
        elif rule == "min":
            ref[:, j] = per_text[:, cols].min(axis=1)
        else:
            with torch.no_grad():
                side = scorer.class_side(*(torch.as_tensor(a) for a in d.rows.take(cols)))
                mean = type(side)(*(t.mean(dim=0, keepdim=True) for t in side))
                ref[:, j] = scorer.energy(torch.as_tensor(p.x_test), mean)[:, 0].numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    if rule == "logmeanexp":  # it lies between the best text and the best text + log T (T = 3 texts)
        best = np.stack([per_text[:, d.groups == c].min(axis=1) for c in classes], axis=1)
        assert np.all(got >= best - 1e-4) and np.all(got <= best + np.log(3) + 1e-4)
    top1 = float((np.asarray(classes)[ref.argmin(axis=1)] == p.y_test).mean() * 100)
    assert evaluate_scorer(scorer, split, d, (p.x_test, p.y_test))["zsl_top1"] == pytest.approx(top1)


@pytest.mark.integration
def test_a_resumed_draw_run_continues_the_same_draws(problem, tmp_path):
    p, texts, _ = problem
    rng = np.random.default_rng(4)
    d = described(texts, [rng.normal(scale=0.3, size=texts.global_emb.shape)])
    cfg = dataclasses.replace(CFG, epochs=2, batch_size=32)
    straight = fit_scorer(p.x_train, p.y_train, p.seen, d, cfg, tmp_path / "a", seed=5, progress=False)
    fit_scorer(p.x_train, p.y_train, p.seen, d, cfg, tmp_path / "b", seed=5, stop_epoch=1, progress=False)
    resumed = fit_scorer(p.x_train, p.y_train, p.seen, d, cfg, tmp_path / "b", seed=5, resume=True, progress=False)
    a, b = straight.scorer.state_dict(), resumed.scorer.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(CheckpointError, match="different run"):  # other texts or mode: not the same run
        fit_scorer(p.x_train, p.y_train, p.seen, dataclasses.replace(d, train_mode="average"), cfg,
                   tmp_path / "b", seed=5, resume=True, progress=False)
