"""Feature extraction takes the single-person path for one-person clips and still equals the full encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.config import PreprocessConfig
from model.preprocess import preprocess_batch, to_encoder_input
from model.shift_gcn import load_shift_gcn
from model.skeleton_io import read_skeleton
from training.extract import encode_clips

pytestmark = pytest.mark.integration


def test_encode_clips_equals_full_encoder_on_real_clips(shared_data: Path, monkeypatch) -> None:
    torch.set_num_threads(1)
    files = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    x = to_encoder_input(preprocess_batch([read_skeleton(f).joints for f in files], PreprocessConfig(num_frames=300)))
    model = load_shift_gcn(shared_data / "shiftgcn" / "ntu_ShiftGCN_joint_xsub.pt")
    with torch.no_grad():
        want = model.forward_features(torch.from_numpy(x)).numpy()
    calls: list[int] = []
    full = model.forward_features
    monkeypatch.setattr(model, "forward_features", lambda t: calls.append(len(t)) or full(t))
    got = encode_clips(model, x, torch.device("cpu"), batch_size=2, progress=False, index=np.array([4, 1, 0, 2, 3]))
    np.testing.assert_allclose(got, want[[4, 1, 0, 2, 3]], atol=1e-5, rtol=0)
    assert calls == [1]  # only the two-person clip (index 1) ran the full encoder
