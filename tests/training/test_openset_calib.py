"""Open-set calibration for the manifest: threshold accepting 95 % of in-set validation samples."""

from __future__ import annotations

import numpy as np
import pytest

import training.scorer_train as scorer_train
from training.openset_calib import calibrate_open_set

pytestmark = pytest.mark.unit


def test_calibrate_open_set_by_hand(monkeypatch):
    # sample i has energies against the val classes [4, 7]; best energies 1..20 -> 95 % accepted at 19
    def energies(scorer, x, texts, classes, batch_size=256):
        assert classes == [4, 7]
        return np.stack([x[:, 0], x[:, 0] + 1.0], axis=1)

    monkeypatch.setattr(scorer_train, "class_energies", energies)
    x = np.arange(1, 23, dtype=np.float64)[:, None]
    y = np.array([4] * 20 + [9, 9])  # the two class-9 samples are not of the val classes: ignored
    got = calibrate_open_set(None, x, y, None, [4, 7])
    assert got["threshold"] == 19.0 and got["samples"] == 20 and got["tpr"] == 0.95
    assert got["in_set_top1"] == 100.0 and got["classes"] == [4, 7]
    with pytest.raises(ValueError, match="no calibration samples"):
        calibrate_open_set(None, x, np.full(22, 3), None, [4, 7])
