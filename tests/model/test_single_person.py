"""The single-person path equals the full Shift-GCN on the real clips, both official checkpoints, PyTorch and ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.bundle_spec import Dims
from model.config import PreprocessConfig
from model.preprocess import preprocess_batch, to_encoder_input
from model.shift_gcn import ShiftGCN, load_shift_gcn
from model.single_person import SinglePersonEncoder, absent_feature, features_split, second_person_absent
from model.skeleton_io import parse_sample_name, read_skeleton

torch.set_num_threads(1)
CHECKPOINTS = ("shiftgcn/ntu_ShiftGCN_joint_xsub.pt", "shiftgcn/ntu120_ShiftGCN_joint_xsub.pt")
FRAMES = 300


@pytest.fixture(scope="module")
def real_clips(shared_data: Path) -> tuple[np.ndarray, list[int]]:
    files = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    x = to_encoder_input(preprocess_batch([read_skeleton(f).joints for f in files], PreprocessConfig(num_frames=FRAMES)))
    return x, [parse_sample_name(f).label for f in files]


@pytest.mark.unit
def test_second_person_absent_flags_only_all_zero_slots() -> None:
    x = np.zeros((3, 3, 8, 25, 2), np.float32)
    x[1, 0, 5, 7, 1] = 1e-30  # one tiny non-zero coordinate makes the person present
    x[2, ..., 0] = 1.0
    assert second_person_absent(x).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="expected"):
        second_person_absent(np.zeros((3, 3, 8, 25)))


@pytest.mark.unit
def test_absent_feature_is_the_trunk_of_the_data_bn_bias(shared_data: Path) -> None:
    model = load_shift_gcn(shared_data / CHECKPOINTS[0])
    const = absent_feature(model, 16)
    # Independent computation: data_bn maps a zero input to beta - mean * gamma / sqrt(var + eps) of slot 1
    # (channel index m*V*C + v*C + c); broadcast that over T and run the ten units on it.
    bn = model.data_bn
    v, c = 25, 3
    idx = np.arange(v * c) + v * c  # slot 1
    with torch.no_grad():
        bias = bn.bias[idx] - bn.running_mean[idx] * bn.weight[idx] / torch.sqrt(bn.running_var[idx] + bn.eps)
    y = bias.reshape(v, c).T[None, :, None, :].expand(1, c, 16, v).contiguous()
    with torch.no_grad():
        for i in range(1, 11):
            y = getattr(model, f"l{i}")(y)
    np.testing.assert_allclose(const.numpy(), y.reshape(256, -1).mean(1).numpy(), atol=1e-5, rtol=1e-5)
    assert float(bias.abs().max()) > 0.1  # the absent person is NOT zero after data_bn


@pytest.mark.integration
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_pytorch_single_person_path_equals_full_graph(shared_data: Path, real_clips, checkpoint: str) -> None:
    x, labels = real_clips
    single_rows = second_person_absent(x)
    assert single_rows.tolist() == [True, False, True, True, True]  # four one-person clips, one handshake
    model = load_shift_gcn(shared_data / checkpoint)
    single = SinglePersonEncoder(model, FRAMES).eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        full = model.forward_features(xt)
        direct = single(xt[torch.from_numpy(single_rows)][..., 0])
        mixed = features_split(model, single, xt)
    np.testing.assert_allclose(direct.numpy(), full[torch.from_numpy(single_rows)].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(mixed.numpy(), full.numpy(), atol=1e-5, rtol=0)
    if checkpoint == CHECKPOINTS[0]:
        assert model.fc(mixed).argmax(1).tolist() == labels
    # Leaving out the absent person's constant is far off, so the comparison above can fail.
    trunk_only = direct * 2 - single.absent
    assert float((trunk_only - full[torch.from_numpy(single_rows)]).abs().max()) > 0.1


@pytest.mark.integration
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_onnx_single_person_graph_equals_full_graph(shared_data: Path, real_clips, checkpoint: str,
                                                    tmp_path: Path) -> None:
    import onnxruntime as ort

    from model.bundle_spec import graph_specs
    from training.export import EncoderGraph
    from training.export_trunk import export_single_person
    from training.onnx_graph import export_graph

    x, _ = real_clips
    model = load_shift_gcn(shared_data / checkpoint)
    dims = Dims(feature_dim=256, text_dim=8, cond_dim=8, latent_dim=4, encoder_hidden=8, decoder_hidden=8,
                num_class=model.num_class)
    assert export_single_person(model, dims, FRAMES, tmp_path, ["fp32"]) == ["single_person.onnx"]
    export_graph(EncoderGraph(model).eval(), (torch.from_numpy(x[:2]),), graph_specs(dims, FRAMES)["encoder"],
                 tmp_path / "encoder.onnx")
    cpu = ["CPUExecutionProvider"]
    full = ort.InferenceSession(str(tmp_path / "encoder.onnx"), providers=cpu).run(["feature"], {"skeleton": x})[0]
    rows = second_person_absent(x)
    single = ort.InferenceSession(str(tmp_path / "single_person.onnx"), providers=cpu)
    got = single.run(None, {"person": np.ascontiguousarray(x[rows, ..., 0])})[0]
    np.testing.assert_allclose(got, full[rows], atol=1e-5, rtol=0)
    with torch.no_grad():
        ref = model.forward_features(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref[rows], atol=1e-5, rtol=0)


@pytest.mark.unit
def test_single_person_encoder_refuses_training_mode_and_bad_shapes() -> None:
    model = ShiftGCN(num_class=5)
    with pytest.raises(ValueError, match="eval mode"):
        SinglePersonEncoder(model.train(), 8)
    single = SinglePersonEncoder(model.eval(), 8)
    with pytest.raises(ValueError, match="first-person input"):
        single(torch.zeros(1, 3, 12, 25))
