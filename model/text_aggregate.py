"""Several texts per class: fold per-text energies (columns) into one energy (and uncertainty) per class.

A class may be described by several texts (its label, free descriptions, body-part or phase descriptions).
Each text is scored as its own column; the columns of one class are then folded by one of these rules:

``logmeanexp`` (default)
    ``E_class = -log mean_t exp(-E_t)``. Energies are negative ELBOs, so ``exp(-E_t)`` is the ELBO's bound on
    ``p(x | text_t)``; the rule is the log-likelihood of x under the uniform mixture of the class's texts
    (each text one equally likely way to describe the action). It lies between ``min_t E_t`` and
    ``min_t E_t + log T``, and equals ``E_t`` when every text gives the same energy or the class has one text.
``min``
    ``E_class = min_t E_t``: the best-matching text decides (ties between rules: min <= logmeanexp <= mean).
``mean_conditioning``
    average the texts' class-side conditionings (see :func:`mean_conditionings`), then score the class once:
    the scoring already yields one column per class, so :func:`aggregate_energies` only checks that.

Uncertainty (mean posterior variance per pair) follows the same choice: for ``logmeanexp`` it is the
mixture-responsibility-weighted mean ``sum_t w_t U_t`` with ``w_t = softmax_t(-E_t)`` within the class (the
texts that explain x carry the weight); for ``min`` it is the uncertainty of the arg-min text; for
``mean_conditioning`` it is that of the single scored column.

Pure numpy (no torch) so training, evaluation and the service share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

LOGMEANEXP = "logmeanexp"
MIN = "min"
MEAN_CONDITIONING = "mean_conditioning"
RULES = (LOGMEANEXP, MIN, MEAN_CONDITIONING)
DEFAULT_RULE = LOGMEANEXP


def check_rule(rule: str) -> str:
    """The rule if it is one of RULES, else a ValueError naming the choices."""
    if rule not in RULES:
        raise ValueError(f"unknown text aggregation rule {rule!r}; choose one of {', '.join(RULES)}")
    return rule


def _group_layout(groups: Sequence[int] | np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(column order sorted by class, start of each class's run in that order, K); every class 0..K-1 present."""
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != n_columns:
        raise ValueError(f"groups must be 1-D with one class index per column ({n_columns}), got shape {g.shape}")
    if n_columns == 0:
        raise ValueError("no text columns to aggregate")
    if not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"groups must be integer class indices, got dtype {g.dtype}")
    if g.min() < 0:
        raise ValueError("groups must be non-negative class indices")
    k = int(g.max()) + 1
    counts = np.bincount(g, minlength=k)
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no text column")
    order = np.argsort(g, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, k


def _as_2d(energies: np.ndarray) -> np.ndarray:
    e = np.asarray(energies, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"energies must be (B, T_texts), got shape {e.shape}")
    return e


def _responsibilities(e: np.ndarray, order: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class log-mean-exp energies (B, K), within-class softmax(-E) weights of the sorted columns (B, T))."""
    neg = -e[:, order]
    peak = np.maximum.reduceat(neg, starts, axis=1)  # (B, K), per class max of -E for a stable exp
    counts = np.diff(np.append(starts, neg.shape[1]))
    idx = np.repeat(np.arange(len(starts)), counts)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = np.exp(neg - peak[:, idx])
        total = np.add.reduceat(shifted, starts, axis=1)
        energy = -(peak + np.log(total / counts))
        weights = shifted / total[:, idx]
    return energy, weights


def aggregate_energies(energies: np.ndarray, groups: Sequence[int] | np.ndarray, rule: str = DEFAULT_RULE
                       ) -> np.ndarray:
    """Class energies (B, K) from per-text energies (B, T); groups[j] = class index (0..K-1) of column j."""
    e = _as_2d(energies)
    order, starts, k = _group_layout(groups, e.shape[1])
    check_rule(rule)
    if rule == MIN:
        return np.minimum.reduceat(e[:, order], starts, axis=1)
    if rule == MEAN_CONDITIONING:
        if e.shape[1] != k:
            raise ValueError("mean_conditioning scores one column per class: average the texts' conditionings "
                             "with mean_conditionings() before scoring")
        return e[:, order]
    return _responsibilities(e, order, starts)[0]


def aggregate_scores(energies: np.ndarray, uncertainty: np.ndarray, groups: Sequence[int] | np.ndarray,
                     rule: str = DEFAULT_RULE) -> tuple[np.ndarray, np.ndarray]:
    """(class energies (B, K), class uncertainties (B, K)) by the rule's energy and uncertainty definitions."""
    e = _as_2d(energies)
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.shape != e.shape:
        raise ValueError(f"uncertainty shape {u.shape} differs from energies shape {e.shape}")
    order, starts, _ = _group_layout(groups, e.shape[1])
    check_rule(rule)
    if rule == LOGMEANEXP:
        energy, weights = _responsibilities(e, order, starts)
        return energy, np.add.reduceat(weights * u[:, order], starts, axis=1)
    energy = aggregate_energies(e, groups, rule)
    if rule == MEAN_CONDITIONING:
        return energy, u[:, order]
    # min: the uncertainty of the column that attains the minimum (first such column within the class)
    es, us = e[:, order], u[:, order]
    counts = np.diff(np.append(starts, e.shape[1]))
    idx = np.repeat(np.arange(len(starts)), counts)
    is_min = es == energy[:, idx]
    first = np.where(is_min, np.arange(e.shape[1])[None, :], e.shape[1])
    pick = np.minimum.reduceat(first, starts, axis=1)
    return energy, np.take_along_axis(us, pick, axis=1)


def mean_conditionings(tensors: Mapping[str, np.ndarray], groups: Sequence[int] | np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Per-class means of per-text class-side tensors ({name: (T, D)} -> {name: (K, D)}) for mean_conditioning.

    The bundle's class side yields enc_c, dec_c (affine in the text conditioning c_y, so their mean equals
    the tensors of the mean c_y exactly) and prior_mu, prior_logvar (an MLP of c_y: the mean of the prior
    parameters, an approximation of the prior of the mean c_y that needs no extra graph).
    """
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        v = np.asarray(value, dtype=np.float64)
        if v.ndim < 1:
            raise ValueError(f"{name}: expected (T_texts, ...) tensor, got a scalar")
        order, starts, _ = _group_layout(groups, v.shape[0])
        counts = np.diff(np.append(starts, v.shape[0])).reshape((-1,) + (1,) * (v.ndim - 1))
        out[name] = (np.add.reduceat(v[order], starts, axis=0) / counts).astype(np.asarray(value).dtype)
    return out
