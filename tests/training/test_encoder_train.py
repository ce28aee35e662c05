"""Shift-GCN training stage: official optimiser groups, schedule, resume, seen-only labels, checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.shift_gcn import ShiftGCN, load_shift_gcn
from training.checkpoint import read_metrics
from training.config import EncoderTrainConfig
from training.encoder_train import load_encoder, param_groups, train_encoder

SEEN = [0, 3, 7]
CFG = EncoderTrainConfig(epochs=3, batch_size=4, lr=0.1, milestones=(1, 2), lr_gamma=0.5, device="cpu", seed=2)


@pytest.fixture(scope="module")
def clips():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    labels = np.array([0, 3, 7, 0, 3, 7, 0, 3, 11, 11])  # class 11 is not seen: selected away by `index`
    data = rng.normal(size=(len(labels), 3, 8, 25, 2)).astype(np.float32)
    data += labels[:, None, None, None, None] * 0.1
    return data, labels, np.flatnonzero(np.isin(labels, SEEN))


@pytest.mark.unit
def test_param_groups_put_linear_weight_decay_on_linear_weight_only():
    model = ShiftGCN(num_class=3)
    groups = param_groups(model, CFG)
    names = {id(p): n for n, p in model.named_parameters()}
    linear = {names[id(p)] for p in groups[0]["params"]}
    assert linear == {n for n, _ in model.named_parameters() if n.endswith("Linear_weight")} and linear
    assert groups[0]["weight_decay"] == 1e-3 and groups[1]["weight_decay"] == 1e-4
    trainable = sum(p.requires_grad for p in model.parameters())
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == trainable


@pytest.mark.integration
def test_resume_after_epoch_1_matches_uninterrupted(clips, tmp_path):
    data, labels, idx = clips
    a = train_encoder(data, labels[idx], SEEN, CFG, tmp_path / "a", progress=False, index=idx)
    train_encoder(data, labels[idx], SEEN, CFG, tmp_path / "b", progress=False, index=idx, stop_epoch=1)
    assert not (tmp_path / "b" / "encoder.pt").exists()  # interrupted runs write no final encoder
    b = train_encoder(data, labels[idx], SEEN, CFG, tmp_path / "b", progress=False, index=idx, resume=True)
    sa, sb = torch.load(a, weights_only=True)["state_dict"], torch.load(b, weights_only=True)["state_dict"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    log_a, log_b = read_metrics(tmp_path / "a" / "encoder_metrics.jsonl"), read_metrics(tmp_path / "b" / "encoder_metrics.jsonl")
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]
    assert len({r["loss"] for r in log_a}) == 3  # the weights did move between epochs
    # MultiStepLR: lr used in epoch e is 0.1 * 0.5^(milestones passed before e)
    assert [r["lr"] for r in log_a] == pytest.approx([0.1, 0.05, 0.025])


@pytest.mark.integration
def test_checkpoint_keeps_the_seen_mapping_and_loads_as_shift_gcn(clips, tmp_path):
    data, labels, idx = clips
    path = train_encoder(data, labels[idx], SEEN, CFG, tmp_path, progress=False, index=idx)
    model, seen = load_encoder(path)
    assert seen == SEEN and model.fc.out_features == len(SEEN)
    plain = load_shift_gcn(path)  # the serving/export loader reads the same file
    x = torch.as_tensor(data[:2])
    assert torch.equal(plain.forward_features(x), model.forward_features(x))


@pytest.mark.unit
def test_unseen_label_in_encoder_data_stops_before_a_checkpoint(clips, tmp_path):
    data, labels, _ = clips
    with pytest.raises(ValueError, match=r"labels \[11\] are not allowed"):
        train_encoder(data, labels, SEEN, CFG, tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.pt"))


@pytest.mark.unit
@pytest.mark.parametrize("shape, match", [((4, 3, 6, 25, 2), "multiple of 4"), ((4, 3, 8, 24, 2), r"\(N, 3, T, 25, 2\)")])
def test_bad_clip_shapes_are_refused(tmp_path, shape, match):
    with pytest.raises(ValueError, match=match):
        train_encoder(np.zeros(shape, np.float32), np.zeros(4, np.int64), [0], CFG, tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.pt"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_gives_an_encoder_that_matches_on_cpu(clips, tmp_path):
    data, labels, idx = clips
    cfg = EncoderTrainConfig(epochs=2, batch_size=4, milestones=(1,), device="cuda", seed=2)
    path = train_encoder(data, labels[idx], SEEN, cfg, tmp_path, progress=False, index=idx)
    cpu_model, _ = load_encoder(path, "cpu")
    gpu_model, _ = load_encoder(path, "cuda")
    x = torch.as_tensor(data[:4])
    with torch.no_grad():
        ref = cpu_model.forward_features(x)
        got = gpu_model.forward_features(x.cuda()).cpu()
    assert torch.isfinite(ref).all()
    torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-4)
