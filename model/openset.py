"""Open set ("none of the registered classes"): energy threshold calibration and the metrics that judge it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_TPR = 0.95  # accept 95 % of in-set samples (Liu et al. 2020, energy-based OOD)


@dataclass(frozen=True)
class OpenSetDecision:
    """Whether the best class is accepted; threshold None = no threshold known (everything accepted)."""

    accepted: bool
    threshold: float | None
    source: str  # "request", "bundle" or "none"

    def as_dict(self) -> dict[str, object]:
        """JSON form for API answers."""
        return {"accepted": self.accepted, "threshold": self.threshold, "source": self.source}


def calibrate_threshold(in_set_energy: np.ndarray, tpr: float = DEFAULT_TPR) -> float:
    """Smallest threshold t with at least `tpr` of in-set best energies <= t (accept = energy <= t)."""
    e = np.sort(np.asarray(in_set_energy, np.float64).ravel())
    if e.size == 0 or not 0 < tpr <= 1:
        raise ValueError("calibration needs in-set energies and 0 < tpr <= 1")
    return float(e[max(math.ceil(tpr * e.size) - 1, 0)])


def decide(best_energy: float, bundle_threshold: float | None, override: float | None = None) -> OpenSetDecision:
    """Accept when best_energy <= threshold; a request's override wins over the bundle's calibration."""
    if override is not None:
        return OpenSetDecision(bool(best_energy <= override), float(override), "request")
    if bundle_threshold is not None:
        return OpenSetDecision(bool(best_energy <= bundle_threshold), float(bundle_threshold), "bundle")
    return OpenSetDecision(True, None, "none")


def auroc(in_energy: np.ndarray, out_energy: np.ndarray) -> float:
    """P(an in-set sample has lower energy than an out-of-set one), ties counting one half (Mann-Whitney)."""
    a, b = np.asarray(in_energy, np.float64).ravel(), np.asarray(out_energy, np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("AUROC needs both in-set and out-of-set samples")
    both = np.concatenate([b, a])  # rank ascending on -energy: in-set should rank high
    order = np.argsort(-both, kind="mergesort")
    ranks = np.empty(both.size)
    sorted_vals = -both[order]
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # average 1-based rank within each tie group
    ranks[order] = np.repeat(avg, counts)
    in_ranks = ranks[b.size:]
    return float((in_ranks.sum() - a.size * (a.size + 1) / 2) / (a.size * b.size))


def fpr_at_tpr(in_energy: np.ndarray, out_energy: np.ndarray, tpr: float = DEFAULT_TPR) -> float:
    """Fraction of out-of-set samples accepted at the threshold that accepts `tpr` of the in-set ones."""
    t = calibrate_threshold(in_energy, tpr)
    return float((np.asarray(out_energy, np.float64) <= t).mean())


def open_set_accuracy(pred: np.ndarray, true: np.ndarray, known: np.ndarray, accepted: np.ndarray) -> float:
    """Correct = a known sample accepted with the right class, or an unknown sample rejected."""
    pred, true, known, accepted = (np.asarray(v) for v in (pred, true, known, accepted))
    ok = np.where(known, accepted & (pred == true), ~accepted)
    return float(ok.mean())


def open_set_report(in_energy: np.ndarray, in_pred: np.ndarray, in_true: np.ndarray, out_energy: np.ndarray,
                    threshold: float | None = None, tpr: float = DEFAULT_TPR) -> dict[str, float]:
    """AUROC, FPR@tpr and open-set accuracy (threshold: given, else calibrated on these in-set energies)."""
    in_e, out_e = np.asarray(in_energy, np.float64), np.asarray(out_energy, np.float64)
    t = calibrate_threshold(in_e, tpr) if threshold is None else float(threshold)
    pred = np.concatenate([np.asarray(in_pred), np.full(out_e.size, -1)])
    true = np.concatenate([np.asarray(in_true), np.full(out_e.size, -2)])
    known = np.concatenate([np.ones(in_e.size, bool), np.zeros(out_e.size, bool)])
    accepted = np.concatenate([in_e, out_e]) <= t
    return {"auroc": auroc(in_e, out_e), "fpr_at_95tpr": fpr_at_tpr(in_e, out_e, tpr),
            "open_set_accuracy": open_set_accuracy(pred, true, known, accepted), "threshold": t}
