"""Open-set calibration and metrics against hand-computed values."""

import numpy as np
import pytest

from model.openset import (
    auroc,
    calibrate_threshold,
    decide,
    fpr_at_tpr,
    open_set_accuracy,
    open_set_report,
)

pytestmark = pytest.mark.unit


def test_calibrate_accepts_95_percent():
    e = np.arange(1, 21, dtype=float)  # 20 in-set energies 1..20: accept 19 of them -> threshold 19
    assert calibrate_threshold(e) == 19.0
    assert calibrate_threshold(e, 1.0) == 20.0
    assert calibrate_threshold(np.array([5.0])) == 5.0
    with pytest.raises(ValueError):
        calibrate_threshold(np.array([]))


def test_auroc_hand_computed():
    # pairs (in < out): 1<3, 1<2, 2<3 count 1 each; 2 vs 2 counts 1/2 -> 3.5 / 4
    assert auroc(np.array([1.0, 2.0]), np.array([3.0, 2.0])) == pytest.approx(0.875)
    assert auroc(np.array([0.0]), np.array([1.0, 2.0])) == 1.0
    assert auroc(np.array([5.0]), np.array([1.0, 2.0])) == 0.0


def test_fpr_at_tpr():
    in_e = np.arange(1, 21, dtype=float)  # threshold 19
    assert fpr_at_tpr(in_e, np.array([18.5, 19.0, 19.5, 30.0])) == 0.5


def test_open_set_accuracy():
    pred = np.array([0, 1, 1, 2])
    true = np.array([0, 0, -1, -1])
    known = np.array([True, True, False, False])
    accepted = np.array([True, True, False, True])
    # right+accepted ok; wrong class not ok; unknown rejected ok; unknown accepted not ok
    assert open_set_accuracy(pred, true, known, accepted) == 0.5


def test_report_and_decision():
    r = open_set_report(np.array([1.0, 2.0]), np.array([0, 1]), np.array([0, 0]), np.array([3.0, 1.5]),
                        threshold=1.8)
    assert r["auroc"] == pytest.approx(0.75)  # 1<3, 1<1.5, 2<3 of 4 pairs
    # accepted: in 1.0 (right), in 2.0 rejected (known -> wrong), out 3.0 rejected (ok), out 1.5 accepted
    assert r["open_set_accuracy"] == 0.5 and r["threshold"] == 1.8
    assert decide(2.0, 3.0).as_dict() == {"accepted": True, "threshold": 3.0, "source": "bundle"}
    assert decide(2.0, 3.0, override=1.0).as_dict() == {"accepted": False, "threshold": 1.0, "source": "request"}
    assert decide(9.0, None).as_dict() == {"accepted": True, "threshold": None, "source": "none"}
