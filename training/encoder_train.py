"""Shift-GCN training on the seen classes only (official recipe), resumable, single- or multi-GPU (torchrun)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from model.shift_gcn import ShiftGCN
from training.checkpoint import (
    CheckpointError,
    append_metrics,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    truncate_metrics,
)
from training.config import EncoderTrainConfig
from training.distributed import apply_sign_rule, convert_batchnorm, global_batches, match_grad_layout


class SkeletonDataset(Dataset):
    """(3, T, 25, 2) clips from a (possibly memory-mapped) array with local class ids."""

    def __init__(self, data: np.ndarray, local_labels: np.ndarray, index: np.ndarray) -> None:
        self.data, self.labels, self.index = data, np.asarray(local_labels, dtype=np.int64), index

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        clip = torch.from_numpy(np.array(self.data[self.index[i]], dtype=np.float32))
        return clip.to(torch.get_default_dtype()), int(self.labels[i])  # float64 in the equivalence test


def check_clips(data: np.ndarray, what: str) -> None:
    """Refuse clip arrays that are not (N, 3, T, 25, 2) float with T a multiple of 4."""
    if data.ndim != 5 or data.shape[1] != 3 or data.shape[3:] != (25, 2):
        raise ValueError(f"{what}: skeletons must be (N, 3, T, 25, 2), got {data.shape}")
    if data.shape[2] % 4:
        raise ValueError(f"{what}: T={data.shape[2]} must be a multiple of 4 for Shift-GCN")
    if not np.issubdtype(data.dtype, np.floating):
        raise ValueError(f"{what}: skeletons must be float, got dtype {data.dtype}")


def check_labels(labels: np.ndarray, n: int, allowed: list[int], what: str) -> None:
    """Refuse labels that are not n integers from `allowed`, naming the offending classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what}: need {n} integer labels, got shape {labels.shape} dtype {labels.dtype}")
    if n == 0:
        raise ValueError(f"{what}: no samples")
    bad = sorted(set(np.unique(labels).tolist()) - set(allowed))
    if bad:
        raise ValueError(f"{what}: labels {bad[:10]} are not allowed classes here ({len(allowed)} allowed)")


def check_skeleton_data(data: np.ndarray, labels: np.ndarray, allowed: list[int], what: str) -> None:
    """check_clips + check_labels for one (clips, labels) pair."""
    check_clips(data, what)
    check_labels(labels, len(data), allowed, what)


def param_groups(model: nn.Module, cfg: EncoderTrainConfig) -> list[dict[str, Any]]:
    """The official Shift-GCN weight decay: cfg.linear_weight_decay on `Linear_weight`, cfg.weight_decay elsewhere."""
    linear = [p for n, p in model.named_parameters() if p.requires_grad and "Linear_weight" in n]
    other = [p for n, p in model.named_parameters() if p.requires_grad and "Linear_weight" not in n]
    return [{"params": linear, "weight_decay": cfg.linear_weight_decay},
            {"params": other, "weight_decay": cfg.weight_decay}]


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def _device(cfg: EncoderTrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _loader(ds: Dataset, cfg: EncoderTrainConfig, epoch: int, world: int, rank: int) -> DataLoader:
    # one epoch-seeded order for every process count: a resumed run sees exactly the batches of an
    # uninterrupted one, and N processes together see the batches one process would (training/distributed.py)
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch)).tolist()
    return DataLoader(ds, batch_sampler=global_batches(order, cfg.batch_size, rank, world),
                      num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available())


def train_encoder(
    data: np.ndarray, labels: np.ndarray, seen: list[int], cfg: EncoderTrainConfig, out_dir: str | Path,
    resume: bool = False, progress: bool = True, val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    eval_every: int = 10, index: np.ndarray | None = None, stop_epoch: int | None = None,
) -> Path:
    """Train Shift-GCN on (N, 3, T, 25, 2) clips of the seen classes; returns <out_dir>/encoder.pt.

    `index` selects the rows of a (memory-mapped) cache to train on; `labels` are then the labels of those
    rows. Seen class ids are remapped to 0..S-1 in sorted order; the mapping is stored in the checkpoint
    (`seen_classes`). `val` = (clips, labels of the rows, rows) of seen-class X-sub test clips, scored every
    `eval_every` epochs with the encoder's own classifier. `stop_epoch` ends the run early (the LR schedule
    still follows cfg); encoder.pt is written only when cfg.epochs is reached.
    """
    out_dir = Path(out_dir)
    seen = sorted(int(c) for c in seen)
    index = np.arange(len(data)) if index is None else np.asarray(index, dtype=np.int64)
    check_clips(data, "encoder training data")
    check_labels(labels, len(index), seen, "encoder training data (must be seen classes only)")
    if val is not None:
        check_clips(val[0], "encoder validation data")
        check_labels(val[1], len(val[2]), seen, "encoder validation data")
    world, rank, local_rank = _dist_env()
    if len(index) < cfg.batch_size * world:
        raise ValueError(f"encoder training data has {len(index)} clips, fewer than one batch "
                         f"({cfg.batch_size} x {world} processes); lower encoder.batch_size")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = _device(cfg, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    lut = {c: i for i, c in enumerate(seen)}
    ds = SkeletonDataset(data, np.array([lut[int(c)] for c in labels]), index)
    torch.manual_seed(cfg.seed)
    # the ypos rule runs after the gradient all_reduce (apply_sign_rule), not as a per-process hook
    model = match_grad_layout(ShiftGCN(num_class=len(seen)).to(device))
    if world > 1:
        model = convert_batchnorm(model)
    opt = torch.optim.SGD(param_groups(model, cfg), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_gamma)
    fp = {"cfg": repr(cfg), "seen": seen, "n": len(index), "shape": list(data.shape[1:]),
          "labels": hashlib.sha256(np.asarray(labels, np.int64).tobytes() + index.tobytes()).hexdigest()[:16]}
    last, metrics = out_dir / "encoder_last.pt", out_dir / "encoder_metrics.jsonl"
    start = 1
    if resume and last.is_file():
        state = load_checkpoint(last)
        if state["fingerprint"] != fp:
            raise CheckpointError(f"{last} belongs to a different run (config/classes/data differ)")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        start = int(state["epoch"]) + 1
        if stop_epoch is not None and start - 1 > stop_epoch:
            raise CheckpointError(f"{last} is at epoch {start - 1}, past the requested stop epoch {stop_epoch}")
        if rank == 0:
            truncate_metrics(metrics, start - 1)
    elif rank == 0 and metrics.is_file():
        metrics.unlink()
    net: nn.Module = model
    if world > 1:  # buffers need no broadcast: every rank's batch norm sees the same global statistics
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                  forward_sync_buffers=False)
    loss_fn = nn.CrossEntropyLoss()
    stop = cfg.epochs if stop_epoch is None else min(int(stop_epoch), cfg.epochs)
    for epoch in range(start, stop + 1):
        net.train()
        lr = opt.param_groups[0]["lr"]
        total, correct, loss_sum = 0, 0, 0.0
        loader = _loader(ds, cfg, epoch, world, rank)
        for x, y in tqdm(loader, desc=f"encoder epoch {epoch}/{cfg.epochs}", disable=not progress or rank != 0,
                         leave=False):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = net(x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite encoder loss at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.ypos_grad_rule:
                apply_sign_rule(model)
            opt.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
        sched.step()
        if world > 1:  # each rank saw its own shard: log the loss and accuracy over all of them
            sums = torch.tensor([loss_sum, correct, total], dtype=torch.float64, device=device)
            dist.all_reduce(sums)
            loss_sum, correct, total = float(sums[0]), int(sums[1]), int(sums[2])
        record: dict[str, Any] = {"epoch": epoch, "lr": lr, "loss": loss_sum / max(total, 1),
                                  "train_top1": 100.0 * correct / max(total, 1)}
        if val is not None and eval_every and (epoch % eval_every == 0 or epoch == cfg.epochs) and rank == 0:
            record["val_seen_top1"] = seen_accuracy(model, val[0], np.array([lut[int(c)] for c in val[1]]), device,
                                                   index=val[2])
        if rank == 0:
            append_metrics(metrics, record)
            save_checkpoint(last, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "rng": rng_state(), "epoch": epoch,
                                   "fingerprint": fp})
    final = out_dir / "encoder.pt"
    if rank == 0 and stop == cfg.epochs:
        save_checkpoint(final, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                                "seen_classes": seen, "num_class": len(seen), "epochs": cfg.epochs,
                                "num_frames": int(data.shape[2])})
    if world > 1:
        dist.barrier()
    return final


@torch.no_grad()
def seen_accuracy(model: ShiftGCN, data: np.ndarray, local_labels: np.ndarray, device: torch.device,
                  batch_size: int = 64, index: np.ndarray | None = None) -> float:
    """Top-1 (%) of the encoder's own classifier on seen-class clips (rows `index` of data)."""
    index = np.arange(len(data)) if index is None else np.asarray(index)
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(index), batch_size):
        x = torch.as_tensor(np.asarray(data[index[i:i + batch_size]], dtype=np.float32), device=device)
        correct += int((model(x.to(torch.get_default_dtype())).argmax(1).cpu().numpy() == local_labels[i:i + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / max(len(index), 1)


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> tuple[ShiftGCN, list[int]]:
    """Load encoder.pt (weights-only) and its seen-class mapping (local index i = global class seen[i])."""
    state = load_checkpoint(path)
    if "state_dict" not in state or "seen_classes" not in state:
        raise CheckpointError(f"{path} is not an encoder checkpoint written by train_encoder")
    model = ShiftGCN(num_class=int(state["num_class"]))
    model.load_state_dict(state["state_dict"], strict=True)
    return model.to(device).eval(), [int(c) for c in state["seen_classes"]]
