"""Shift-GCN port: strict loading of the official checkpoints, real-clip accuracy, training rule, ONNX parity."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from model.config import PreprocessConfig
from model.preprocess import preprocess_batch, select_persons, to_encoder_input
from model.shift_gcn import ShiftGCN, load_shift_gcn
from model.skeleton_io import parse_sample_name, read_skeleton

torch.set_num_threads(1)
NTU60 = "shiftgcn/ntu_ShiftGCN_joint_xsub.pt"
NTU120 = "shiftgcn/ntu120_ShiftGCN_joint_xsub.pt"


@pytest.fixture(scope="module")
def ntu60(shared_data: Path) -> ShiftGCN:
    return load_shift_gcn(shared_data / NTU60)


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> tuple[list[np.ndarray], list[int]]:
    files = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    assert len(files) == 5
    return [read_skeleton(f).joints for f in files], [parse_sample_name(f).label for f in files]


@pytest.mark.unit
@pytest.mark.parametrize(("name", "classes"), [(NTU60, 60), (NTU120, 120)])
def test_official_checkpoints_load_strictly(shared_data: Path, name: str, classes: int) -> None:
    state = torch.load(shared_data / name, map_location="cpu", weights_only=True)
    model = load_shift_gcn(shared_data / name)
    assert model.num_class == classes and not model.training
    mine = model.state_dict()
    assert set(mine) == set(state) and len(state) == 302
    for key, value in state.items():
        assert torch.equal(mine[key], value), key
    assert 0.68e6 < sum(p.numel() for p in model.parameters()) < 0.71e6  # SPEC: ~0.69 M


@pytest.mark.unit
def test_spatial_shift_indices_match_the_checkpoint_and_formula(shared_data: Path) -> None:
    state = torch.load(shared_data / NTU60, map_location="cpu", weights_only=True)
    model = ShiftGCN()
    for i in range(1, 11):
        gcn = getattr(model, f"l{i}").gcn1
        assert torch.equal(gcn.shift_in, state[f"l{i}.gcn1.shift_in"])
        assert torch.equal(gcn.shift_out, state[f"l{i}.gcn1.shift_out"])
    cin = model.l2.gcn1.shift_in
    data = torch.randn(25, 64)
    shifted = data.reshape(-1)[cin].reshape(25, 64)
    for v in (0, 3, 24):
        for c in (0, 5, 63):
            assert shifted[v, c] == data[(v + c) % 25, c]
    back = shifted.reshape(-1)[model.l2.gcn1.shift_out].reshape(25, 64)
    assert torch.equal(back, data)  # shift_out undoes shift_in for equal widths


@pytest.mark.unit
def test_wrong_num_class_and_bad_files(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fc has 60 classes"):
        load_shift_gcn(shared_data / NTU60, num_class=120)
    bad = tmp_path / "bad.pt"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not a Shift-GCN state_dict"):
        load_shift_gcn(bad)


@pytest.mark.unit
def test_feature_is_fc_input_and_shape_checks(ntu60: ShiftGCN) -> None:
    x = torch.randn(2, 3, 16, 25, 2)
    captured = {}
    hook = ntu60.fc.register_forward_hook(lambda mod, inp, out: captured.update(inp=inp[0], out=out))
    with torch.no_grad():
        feature, logits = ntu60.forward_both(x)
    hook.remove()
    assert feature.shape == (2, 256) and logits.shape == (2, 60)
    torch.testing.assert_close(captured["inp"], feature)
    torch.testing.assert_close(logits, feature @ ntu60.fc.weight.T + ntu60.fc.bias)
    with pytest.raises(ValueError, match="multiple of 4"):
        ntu60(torch.randn(1, 3, 18, 25, 2))
    with pytest.raises(ValueError, match=r"expects \(N, 3, T, 25, 2\)"):
        ntu60(torch.randn(1, 3, 16, 25, 1))


@pytest.mark.integration
def test_official_weights_classify_the_real_clips(ntu60: ShiftGCN, clips) -> None:
    seqs, labels = clips
    x = torch.from_numpy(to_encoder_input(preprocess_batch(seqs, PreprocessConfig(num_frames=300))))
    with torch.no_grad():
        pred = ntu60(x).argmax(1).tolist()
    assert pred == labels
    # without pre_normalize (persons selected, zero-padded, no loop-pad/centring/rotation): observed 0/5
    raw = np.stack([np.pad(select_persons(s), ((0, 0), (0, 300 - s.shape[1]), (0, 0), (0, 0))) for s in seqs])
    with torch.no_grad():
        raw_pred = ntu60(torch.from_numpy(to_encoder_input(raw))).argmax(1).tolist()
    assert sum(p == y for p, y in zip(raw_pred, labels, strict=True)) == 0


@pytest.mark.unit
def test_trains_from_scratch_with_the_sign_rule() -> None:
    torch.manual_seed(0)
    plain = ShiftGCN(num_class=5)
    ruled = ShiftGCN(num_class=5, ypos_grad_rule=True)
    ruled.load_state_dict(plain.state_dict())
    x, y = torch.randn(2, 3, 8, 25, 2), torch.tensor([1, 3])
    for model in (plain, ruled):
        torch.nn.functional.cross_entropy(model(x), y).backward()
    for name in ("l1.tcn1.shift_in", "l8.tcn1.shift_out"):
        g_plain = plain.get_submodule(name).ypos.grad
        g_ruled = ruled.get_submodule(name).ypos.grad
        assert g_plain.abs().max() > 0
        torch.testing.assert_close(g_ruled, 0.01 * torch.sign(g_plain))
        assert plain.get_submodule(name).xpos.grad is None
    assert plain.l3.gcn1.Linear_weight.grad.abs().max() > 0
    assert all(p.grad is not None for n, p in plain.named_parameters() if p.requires_grad), "a dead parameter"


class _Both(torch.nn.Module):
    def __init__(self, model: ShiftGCN):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_both(x)


@pytest.mark.integration
def test_onnx_export_matches_pytorch(ntu60: ShiftGCN, tmp_path: Path) -> None:
    import onnxruntime as ort

    # export() restores the wrapper's training flag afterwards, so the wrapper itself must be in eval mode
    wrapper = _Both(ntu60).eval()
    path = tmp_path / "shift_gcn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        torch.onnx.export(wrapper, (torch.randn(2, 3, 32, 25, 2),), str(path), dynamo=False, opset_version=17,
                          input_names=["skeleton"], output_names=["feature", "logits"],
                          dynamic_axes={"skeleton": {0: "batch", 2: "frames"}, "feature": {0: "batch"}, "logits": {0: "batch"}})
    assert not ntu60.training
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, frames in ((1, 32), (3, 32), (2, 64)):
        x = torch.randn(batch, 3, frames, 25, 2)
        feature, logits = session.run(None, {"skeleton": x.numpy()})
        with torch.no_grad():
            ref_feature, ref_logits = ntu60.forward_both(x)
        np.testing.assert_allclose(feature, ref_feature.numpy(), atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(logits, ref_logits.numpy(), atol=1e-4, rtol=1e-4)



@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_on_real_clips(shared_data: Path, clips) -> None:
    seqs, labels = clips
    x = torch.from_numpy(to_encoder_input(preprocess_batch(seqs, PreprocessConfig(num_frames=300))))
    cpu_model = load_shift_gcn(shared_data / NTU60)
    gpu_model = load_shift_gcn(shared_data / NTU60).cuda()
    with torch.no_grad():
        ref = cpu_model.forward_both(x)
        got = gpu_model.forward_both(x.cuda())
    assert got[1].argmax(1).tolist() == labels
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a.cpu(), b, atol=1e-3, rtol=1e-3)
