"""Scorer training: resume equivalence, schedules, model selection protocol and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from synthetic_problem import make_problem

from model.config import ScaleConfig
from training.checkpoint import CheckpointError, read_metrics
from training.config import ScorerTrainConfig
from training.scorer_train import fit_scorer, load_scorer, train_scorer, zsl_top1
from training.text_cache import read_class_texts, write_class_texts

pytestmark = pytest.mark.integration
SMALL = ScaleConfig(cond_dim=32, latent_dim=8)


@pytest.fixture(scope="module")
def problem():
    return make_problem(num_classes=12, num_unseen=3, per_class_train=12, per_class_test=6, seed=3)


def cfg(**kw) -> ScorerTrainConfig:
    return ScorerTrainConfig(**{"epochs": 3, "batch_size": 32, "lr": 1e-3, "device": "cpu", "model": SMALL, **kw})


def test_resume_after_epoch_1_matches_uninterrupted(problem, tmp_path):
    p, texts, _ = problem
    straight = fit_scorer(p.x_train, p.y_train, p.seen, texts, cfg(), tmp_path / "a", seed=5, progress=False)
    fit_scorer(p.x_train, p.y_train, p.seen, texts, cfg(), tmp_path / "b", seed=5, stop_epoch=1, progress=False)
    assert [r["epoch"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl")] == [1]
    resumed = fit_scorer(p.x_train, p.y_train, p.seen, texts, cfg(), tmp_path / "b", seed=5, resume=True,
                         progress=False)
    a, b = straight.scorer.state_dict(), resumed.scorer.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # same losses epoch by epoch, and the log has no duplicated epoch
    assert [r["total"] for r in resumed.history] == [r["total"] for r in straight.history]
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]


def test_resume_refuses_another_runs_checkpoint(problem, tmp_path):
    p, texts, _ = problem
    fit_scorer(p.x_train, p.y_train, p.seen, texts, cfg(), tmp_path, seed=1, stop_epoch=1, progress=False)
    with pytest.raises(CheckpointError, match="different run"):
        fit_scorer(p.x_train, p.y_train, p.seen, texts, cfg(), tmp_path, seed=2, resume=True, progress=False)


def test_cosine_lr_and_cyclical_beta_follow_closed_form(problem, tmp_path):
    p, texts, _ = problem
    c = cfg(epochs=4, beta_cycles=2, beta_ratio=0.5)
    hist = fit_scorer(p.x_train, p.y_train, p.seen, texts, c, tmp_path, progress=False).history
    steps = math.ceil(len(p.x_train) / c.batch_size)
    total = steps * c.epochs
    for rec in hist:
        done = rec["epoch"] * steps  # scheduler steps taken at the end of the epoch
        assert rec["lr_end"] == pytest.approx(0.5 * c.lr * (1 + math.cos(math.pi * done / total)), rel=1e-6, abs=1e-12)
        last_step = done - 1
        phase = (last_step % (total / 2)) / (total / 2)
        assert rec["beta_end"] == pytest.approx(min(1.0, phase / 0.5))


def test_selection_uses_pseudo_unseen_and_retrains_for_selected_epochs(problem, tmp_path):
    p, texts, split = problem
    scorer, meta = train_scorer(p.x_train, p.y_train, split, texts, cfg(), tmp_path, seed=0, progress=False)
    assert set(meta["pseudo_unseen"]) <= set(split.seen) and not set(meta["pseudo_unseen"]) & set(split.unseen)
    vals = [r["val_top1"] for r in meta["val_history"]]
    assert meta["selected_epoch"] == 1 + int(np.argmax(vals))  # first best epoch
    final_log = read_metrics(tmp_path / "final" / "metrics.jsonl")
    assert [r["epoch"] for r in final_log] == list(range(1, meta["selected_epoch"] + 1))
    loaded, loaded_meta = load_scorer(tmp_path / "scorer.pt")
    assert loaded_meta["selected_epoch"] == meta["selected_epoch"]
    assert zsl_top1(loaded, p.x_test, p.y_test, texts, p.unseen) == zsl_top1(scorer, p.x_test, p.y_test, texts,
                                                                              p.unseen)


def test_unseen_training_label_stops_before_any_checkpoint(problem, tmp_path):
    p, texts, split = problem
    y = p.y_train.copy()
    y[0] = p.unseen[0]
    with pytest.raises(ValueError, match=rf"labels \[{p.unseen[0]}\] are not seen classes"):
        train_scorer(p.x_train, y, split, texts, cfg(), tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.pt"))


def test_text_cache_roundtrip_is_pickle_free(problem, tmp_path):
    _, texts, _ = problem
    path = write_class_texts(tmp_path / "t.npz", texts)
    back = read_class_texts(path)
    assert np.array_equal(back.global_emb, texts.global_emb) and back.prompts == texts.prompts
    with np.load(path, allow_pickle=False) as data:  # would raise on object arrays
        assert data["prompts"].dtype.kind == "U"


class CountingEncoder:
    """Stands in for the CLIP tower: deterministic features, counts encode() calls."""

    weights_id = "fake:1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        k = len(texts)
        return type("F", (), {"global_emb": np.arange(k * 4, dtype=np.float32).reshape(k, 4),
                              "tokens": np.zeros((k, 3, 4), np.float32), "mask": np.ones((k, 3), np.float32)})


@pytest.mark.unit
def test_text_features_are_encoded_once_per_prompt_set(tmp_path):
    from training.text_cache import class_texts

    enc = CountingEncoder()
    first = class_texts(["wave", "jump"], "The Human Action of {label}", tmp_path, encoder=enc)
    again = class_texts(["wave", "jump"], "The Human Action of {label}", tmp_path, encoder=enc)
    assert len(enc.calls) == 1 and enc.calls[0] == ["The Human Action of wave", "The Human Action of jump"]
    assert np.array_equal(first.global_emb, again.global_emb) and again.weights_id == "fake:1"
    class_texts(["wave", "jump"], "A person doing {label}", tmp_path, encoder=enc)
    assert len(enc.calls) == 2 and len(list(tmp_path.glob("text_*.npz"))) == 2
