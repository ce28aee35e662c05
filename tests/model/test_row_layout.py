"""The row layout (N, C, V, T) computes the reference Shift-GCN's features, on the official checkpoint and real clips."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from model.row_layout import row_layout_copy, shift_rows, use_row_layout
from model.shift_gcn import ShiftGCN, load_shift_gcn, spatial_shift_index
from model.single_person import SinglePersonEncoder


@pytest.mark.unit
def test_row_index_is_the_reference_shift_with_axes_swapped() -> None:
    v, c = 25, 64
    for direction in (+1, -1):
        flat = spatial_shift_index(v, c, direction).reshape(v, c)  # position (v, c) reads flat index v'*C + c
        rows = shift_rows(v, c, direction).reshape(c, v)  # position (c, v) reads row c*V + v'
        source_joint_ref = flat // c
        source_joint_rows = rows % v
        assert torch.equal(source_joint_ref.t(), source_joint_rows)
        assert torch.equal(rows // v, torch.arange(c)[:, None].expand(c, v))  # a row never changes channel
    # hand-checked: channel 3 of joint 24 reads joint (24 + 3) mod 25 = 2 going in, (24 - 3) = 21 coming out
    assert int(shift_rows(25, 64, +1)[3 * 25 + 24]) == 3 * 25 + 2
    assert int(shift_rows(25, 64, -1)[3 * 25 + 24]) == 3 * 25 + 21


@pytest.mark.unit
def test_random_weights_and_trained_batch_norms_give_the_same_features() -> None:
    torch.manual_seed(0)
    model = ShiftGCN(num_class=10)
    for module in model.modules():  # non-trivial running statistics and affine terms everywhere
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
        if hasattr(module, "Feature_Mask"):
            module.Feature_Mask.data.normal_(0, 0.5)
        if hasattr(module, "ypos"):
            module.ypos.data.uniform_(-3, 3)
    model.eval()
    x = torch.randn(3, 3, 64, 25, 2)
    with torch.no_grad():
        want = model.forward_features(x)
        got = row_layout_copy(model).forward_features(x)
    assert model.row_trunk is None  # the copy carries the layout, not the original
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.unit
def test_training_mode_is_refused_and_never_uses_the_folded_norms() -> None:
    model = ShiftGCN(num_class=5).train()
    with pytest.raises(ValueError, match="eval mode"):
        use_row_layout(model)
    assert row_layout_copy(model) is model  # a training model is exported as it is
    twin = use_row_layout(copy.deepcopy(model).eval()).train()
    x = torch.randn(2, 3, 16, 25, 2)
    torch.manual_seed(1)
    a = twin.forward_features(x)
    torch.manual_seed(1)
    b = copy.deepcopy(model).train().forward_features(x)
    torch.testing.assert_close(a, b)  # in training the reference units run (batch statistics)


@pytest.mark.integration
def test_official_checkpoint_on_real_clips(shared_data: Path) -> None:
    from benchmarks.accuracy_gate import encoder_input
    from model.skeleton_io import read_skeleton

    model = load_shift_gcn(shared_data / "shiftgcn" / "ntu120_ShiftGCN_joint_xsub.pt")
    files = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    x = torch.from_numpy(encoder_input({f.name: read_skeleton(f).joints for f in files}))
    twin = row_layout_copy(model)
    with torch.no_grad():
        want_feat, want_logits = model.forward_both(x)
        got_feat, got_logits = twin.forward_both(x)
        single_want = SinglePersonEncoder(model, x.shape[2])(x[:1, ..., 0])
        single_got = SinglePersonEncoder(twin, x.shape[2])(x[:1, ..., 0])
    np.testing.assert_allclose(got_feat.numpy(), want_feat.numpy(), atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(single_got.numpy(), single_want.numpy(), atol=2e-5, rtol=1e-5)
    assert torch.equal(got_logits.argmax(1), want_logits.argmax(1))
    labels = [int(f.name.split("A")[1][:3]) - 1 for f in files]  # NTU-120's first 60 classes are NTU-60's
    assert got_logits.argmax(1).tolist() == labels
