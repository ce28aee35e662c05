"""Text aggregation: per-text energies folded per class, checked by hand and against plain-Python loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.text_aggregate import (
    aggregate_energies,
    aggregate_scores,
    check_rule,
    mean_conditionings,
)

pytestmark = pytest.mark.unit


def test_logmeanexp_hand_computed() -> None:
    # class 0: texts with energies 1 and 3; class 1: one text with energy 2
    e = np.array([[1.0, 2.0, 3.0]])
    out = aggregate_energies(e, [0, 1, 0], "logmeanexp")
    expected0 = -math.log((math.exp(-1.0) + math.exp(-3.0)) / 2)  # = 1 + log 2 - log(1 + e^-2)
    assert out.shape == (1, 2)
    assert out[0, 0] == pytest.approx(expected0, abs=1e-12)
    assert out[0, 0] == pytest.approx(1 + math.log(2) - math.log(1 + math.exp(-2)), abs=1e-12)
    assert out[0, 1] == pytest.approx(2.0)


def test_min_and_identical_texts() -> None:
    e = np.array([[5.0, 4.0, 7.0, 7.0], [0.5, 9.0, 2.0, 2.0]])
    assert aggregate_energies(e, [0, 0, 1, 1], "min").tolist() == [[4.0, 7.0], [0.5, 2.0]]
    # identical texts: the mixture of equal energies is that energy
    np.testing.assert_allclose(aggregate_energies(e, [0, 0, 1, 1])[:, 1], [7.0, 2.0], atol=1e-12)


def test_large_energies_do_not_overflow() -> None:
    e = np.array([[2000.0, 2001.0, -3000.0]])
    out = aggregate_energies(e, [0, 0, 1])
    assert np.isfinite(out).all()
    assert out[0, 0] == pytest.approx(2000 + math.log(2) - math.log(1 + math.exp(-1)), abs=1e-9)
    assert out[0, 1] == pytest.approx(-3000.0)


def _loop_reference(e: np.ndarray, u: np.ndarray, groups: list[int], rule: str):
    k = max(groups) + 1
    energy = np.zeros((e.shape[0], k))
    unc = np.zeros((e.shape[0], k))
    for b in range(e.shape[0]):
        for c in range(k):
            cols = [j for j, g in enumerate(groups) if g == c]
            vals = [float(e[b, j]) for j in cols]
            if rule == "min":
                j = cols[vals.index(min(vals))]
                energy[b, c], unc[b, c] = e[b, j], u[b, j]
            else:
                lo = min(vals)
                ws = [math.exp(-(v - lo)) for v in vals]
                energy[b, c] = lo - math.log(sum(ws) / len(ws))
                unc[b, c] = sum(w * float(u[b, j]) for w, j in zip(ws, cols, strict=True)) / sum(ws)
    return energy, unc


@settings(max_examples=60, deadline=None)
@given(data=st.data(), rule=st.sampled_from(["logmeanexp", "min"]))
def test_matches_loop_reference(data, rule: str) -> None:
    k = data.draw(st.integers(1, 5))
    groups = list(range(k)) + data.draw(st.lists(st.integers(0, k - 1), max_size=8))
    groups = data.draw(st.permutations(groups))
    b = data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    e = rng.normal(0, 30, size=(b, len(groups)))
    u = rng.uniform(0, 2, size=e.shape)
    want_e, want_u = _loop_reference(e, u, groups, rule)
    got_e, got_u = aggregate_scores(e, u, groups, rule)
    np.testing.assert_allclose(got_e, want_e, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(got_u, want_u, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(aggregate_energies(e, groups, rule), want_e, rtol=1e-10, atol=1e-9)
    # ordering of rules: min <= logmeanexp <= min + log(T_class)
    if rule == "logmeanexp":
        mins = aggregate_energies(e, groups, "min")
        n = np.bincount(groups)
        assert (got_e >= mins - 1e-9).all() and (got_e <= mins + np.log(n) + 1e-9).all()


def test_min_uncertainty_takes_argmin_text() -> None:
    e = np.array([[3.0, 1.0, 2.0]])
    u = np.array([[0.3, 0.1, 0.2]])
    energy, unc = aggregate_scores(e, u, [0, 0, 0], "min")
    assert energy.tolist() == [[1.0]] and unc.tolist() == [[0.1]]


def test_mean_conditioning_needs_one_column_per_class() -> None:
    e = np.array([[1.0, 2.0]])
    assert aggregate_energies(e, [1, 0], "mean_conditioning").tolist() == [[2.0, 1.0]]
    with pytest.raises(ValueError, match="mean_conditionings"):
        aggregate_energies(np.zeros((1, 3)), [0, 0, 1], "mean_conditioning")


def test_mean_conditionings_hand_computed() -> None:
    rows = {"enc_c": np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 20.0]], np.float32)}
    out = mean_conditionings(rows, [0, 1, 0])
    assert out["enc_c"].dtype == np.float32
    assert out["enc_c"].tolist() == [[5.5, 11.0], [3.0, 4.0]]


@pytest.mark.parametrize(("groups", "message"), [
    ([0, 2], "have no text column"), ([0], "one class index per column"), ([-1, 0], "non-negative"),
    ([0.0, 1.0], "integer"),
])
def test_bad_groups(groups, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate_energies(np.zeros((1, 2)), groups)


def test_bad_rule_and_shape() -> None:
    with pytest.raises(ValueError, match="choose one of logmeanexp, min, mean_conditioning"):
        check_rule("softmax")
    with pytest.raises(ValueError, match="B, T_texts"):
        aggregate_energies(np.zeros(3), [0, 0, 0])
