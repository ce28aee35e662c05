"""The stages of one experiment wired to a PipelineConfig: prepare, encoder, extract, scorer, evaluate, ablate.

Every stage validates all of its inputs before it trains anything (validate_inputs).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from training.config import ConfigError, PipelineConfig

log = logging.getLogger(__name__)


def split_of(cfg: PipelineConfig) -> Any:
    """The ZeroShotSplit named by data.setting, built in or of data.dataset_file (clear error for unknown names)."""
    from training.splits import get_split

    try:
        if cfg.data.dataset_file:
            from training.datasets import load_dataset

            return load_dataset(cfg.data.dataset_file).split(cfg.data.setting)
        return get_split(cfg.data.setting)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from exc


def names_of(cfg: PipelineConfig) -> list[str]:
    """Class names in class-id order: the dataset file's, or NTU's data.class_names variant."""
    if cfg.data.dataset_file:
        from training.datasets import load_dataset

        return list(load_dataset(cfg.data.dataset_file).classes)
    from training.splits import class_names

    return class_names(cfg.data.dataset, cfg.data.class_names)


def has_raw_clips(cfg: PipelineConfig) -> bool:
    """Whether `prepare` has something to read: a dataset file, or an existing data.skeletons path."""
    return bool(cfg.data.dataset_file) or bool(cfg.data.skeletons and Path(cfg.data.skeletons).exists())


def cache_root(cfg: PipelineConfig) -> Path:
    """Folder holding <benchmark>/{train,val}_data.npy: data.cache or <output>/cache."""
    return Path(cfg.data.cache) if cfg.data.cache else cfg.out / "cache"


def features_dir(cfg: PipelineConfig) -> Path:
    """data.features when given (peers' folders), else the folder the extract stage writes."""
    return Path(cfg.data.features) if cfg.data.features else cfg.out / "features"


def prepare(cfg: PipelineConfig, progress: bool = True, workers: int | None = None) -> Path:
    """Raw clips (your dataset, an NTU .skeleton folder or a CTR-GCN npz) -> preprocessed cache; returns its folder.

    Refuses (ValueError) a source that yields no usable training or test clip, naming why clips were skipped.
    """
    src = Path(cfg.data.skeletons)
    root = cache_root(cfg)
    workers = workers or cfg.data.workers or None
    if cfg.data.dataset_file:
        from training.datasets import load_dataset
        from training.readers.dataset_folder import build_dataset_cache

        counts = build_dataset_cache(load_dataset(cfg.data.dataset_file), root, cfg.data.num_frames, workers,
                                     progress).counts
    elif not cfg.data.skeletons:
        raise ConfigError("data.skeletons is empty: nothing to prepare (set it, data.dataset_file or data.features)")
    elif src.is_dir():
        from training.readers import build_skeleton_cache

        counts = build_skeleton_cache(src, root, "xsub", cfg.data.dataset, cfg.data.num_frames, workers=workers,
                                      progress=progress).counts
    elif src.is_file() and src.suffix == ".npz":
        from training.prepare_npz import npz_to_cache

        npz_to_cache(src, root / "xsub", cfg.data.num_frames, split_of(cfg).num_classes, cfg.data.dataset)
        return root / "xsub"
    else:
        raise FileNotFoundError(f"data.skeletons: {src} is neither a folder of .skeleton files nor an .npz file")
    check_prepared(root / "xsub", counts)
    return root / "xsub"


def check_prepared(folder: Path, counts: dict[str, int]) -> None:
    """A cache with no training or no test clip is an error, with the reasons clips were skipped."""
    if counts.get("train", 0) and counts.get("val", 0):
        return
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    reasons = [f"{len(meta['skipped_other_dataset'])} outside {meta['dataset']} (NTU file names S###C###P###R###A###)",
               f"{len(meta['skipped_missing'])} on the missing-skeleton list", f"{len(meta['failed'])} unreadable"]
    first = "; first failure: " + meta["failed"][0]["name"] + ": " + meta["failed"][0]["error"] if meta["failed"] else ""
    raise ValueError(f"prepare found {counts.get('train', 0)} usable training and {counts.get('val', 0)} usable "
                     f"test clips: {', '.join(reasons)}{first}. See {folder / 'meta.json'}")


def load_clips(cfg: PipelineConfig) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train clips, labels), (test clips, labels)) from the cache, memory-mapped."""
    from training.readers import read_skeleton_cache

    root = cache_root(cfg) / "xsub"
    if not root.is_dir():
        raise FileNotFoundError(f"skeleton cache {root} not found: run `scale prepare` first")
    return read_skeleton_cache(root, "train"), read_skeleton_cache(root, "val")


def check_clips_for_split(cfg: PipelineConfig) -> None:
    """The cache must hold seen training clips, unseen test clips, the right T and no out-of-range label."""
    split = split_of(cfg)
    (tx, ty), (vx, vy) = load_clips(cfg)
    check_cache_dataset(cfg)
    for name, x, y in (("train", tx, ty), ("test", vx, vy)):
        if x.shape[2] != cfg.data.num_frames:
            raise ValueError(f"cache {name} clips have T={x.shape[2]} but data.num_frames={cfg.data.num_frames}; "
                             "re-run prepare")
        if len(y) and (y.min() < 0 or y.max() >= split.num_classes):
            raise ValueError(f"cache {name} labels must be in [0, {split.num_classes}) for {split.name}")
    if not np.isin(ty, split.seen).any():
        raise ValueError(f"the cache's training part has no clip of a seen class of {split.name}")
    if not np.isin(vy, split.unseen).any():
        raise ValueError(f"the cache's test part has no clip of an unseen class of {split.name}")
    check_selection_classes(cfg, ty)


def check_cache_dataset(cfg: PipelineConfig) -> None:
    """Refuse a cache prepared for the other dataset (an NTU-60 cache has no class >= 60 to flag it)."""
    meta_path = cache_root(cfg) / "xsub" / "meta.json"
    if not meta_path.is_file():
        return
    try:
        dataset = json.loads(meta_path.read_text(encoding="utf-8")).get("dataset")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{meta_path}: unreadable cache metadata ({exc}); re-run `scale prepare`") from exc
    if dataset is not None and dataset != cfg.data.dataset:
        raise ValueError(f"{meta_path}: the cache holds {dataset} clips but data.setting={cfg.data.setting} needs "
                         f"{cfg.data.dataset}; point data.cache at a {cfg.data.dataset} cache or re-run `scale prepare`")


def check_selection_classes(cfg: PipelineConfig, train_labels: np.ndarray) -> None:
    """Pseudo-unseen model selection needs training samples of pseudo-seen and pseudo-unseen classes."""
    if cfg.scorer.selection != "pseudo_unseen":
        return
    from training.splits import pseudo_unseen_split

    sc = cfg.scorer
    vs = pseudo_unseen_split(split_of(cfg), num_val=sc.num_val or None, seed=sc.val_seed, source=sc.val_source)
    for name, classes in (("pseudo-unseen", vs.pseudo_unseen), ("pseudo-seen", vs.pseudo_seen)):
        if not np.isin(train_labels, classes).any():
            raise ValueError(f"model selection (scorer.selection = 'pseudo_unseen') needs training samples of "
                             f"the {name} classes {list(classes)[:10]}, and there are none")


def check_device(name: str, key: str) -> None:
    """Refuse a device string torch cannot parse, or a CUDA device on a machine without one."""
    import torch

    if name == "auto":
        return
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"{key} = {name!r} is not a torch device (use auto, cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"{key} = {name!r} but this machine has {torch.cuda.device_count()} CUDA device(s); "
                          "use auto or cpu")


def validate_inputs(cfg: PipelineConfig, stages: tuple[str, ...]) -> None:
    """Check every input the requested stages will read, before any of them trains."""
    split = split_of(cfg)
    if {"encoder", "extract"} & set(stages):
        check_device(cfg.encoder.device, "encoder.device")
    if {"scorer", "ablate"} & set(stages):
        check_device(cfg.scorer.device, "scorer.device")
    names_of(cfg)
    if "ablate" in stages:
        from training.ablation import variant_names

        variant_names(cfg.ablation.variants, cfg.ablation.alphas, cfg.ablation.extra)
    needs_clips = {"encoder", "extract"} & set(stages)
    if needs_clips and cfg.data.features:
        raise ConfigError("data.features is set: the encoder/extract stages are skipped for feature folders")
    # with data.dataset_file, split_of above has read and checked the dataset, label and class files
    if "prepare" in stages and not cfg.data.dataset_file:
        src = Path(cfg.data.skeletons)
        if not cfg.data.skeletons or not src.exists():
            raise FileNotFoundError(f"data.skeletons: {cfg.data.skeletons!r} not found")
        if src.is_file() and src.suffix == ".npz":
            from training.readers import read_ctrgcn_npz

            for part in ("train", "test"):
                _, y = read_ctrgcn_npz(src, part)
                if len(y) and y.max() >= split.num_classes:
                    raise ValueError(f"{src}: y_{part} has class {int(y.max())} but {split.name} has "
                                     f"{split.num_classes} classes")
        elif src.is_dir() and not any(src.glob("*.skeleton")):
            raise FileNotFoundError(f"data.skeletons: {src} holds no .skeleton files")
    elif needs_clips and "prepare" not in stages:
        check_clips_for_split(cfg)
    # features are read up front only when no earlier stage of this run is going to write them
    if {"scorer", "evaluate", "ablate"} & set(stages) and not {"prepare", "encoder", "extract"} & set(stages):
        from training.readers import read_feature_folder

        folder = read_feature_folder(features_dir(cfg), split)
        if {"scorer", "ablate"} & set(stages):
            check_selection_classes(cfg, folder.train.labels)
    if {"scorer", "ablate"} & set(stages):
        check_text_weights(cfg)
    if cfg.text.descriptions and {"scorer", "evaluate", "ablate"} & set(stages):
        descriptions_of(cfg)  # a bad description file stops us before anything trains


def check_text_weights(cfg: PipelineConfig) -> None:
    """Fail early (MissingWeightsError) when no CLIP text weights can be found and no random init is asked."""
    if cfg.text.random_init_seed is not None:
        return
    from model.text import resolve_weights
    from training.text_cache import TRAINING_WEIGHTS_SOURCE

    # MissingWeightsError names where it looked and where an explicit path came from
    resolve_weights(cfg.text.weights or None, cfg.text.model_name, source=TRAINING_WEIGHTS_SOURCE)


def descriptions_of(cfg: PipelineConfig) -> dict[int, list[str]]:
    """text.descriptions read and validated against the dataset's class count (DescriptionFormatError if not)."""
    from training.readers.descriptions import read_descriptions

    if cfg.text.descriptions == "dataset":  # the descriptions of data.dataset_file's class file
        from training.datasets import load_dataset

        if not cfg.data.dataset_file:
            raise ConfigError('text.descriptions = "dataset" needs data.dataset_file')
        found = load_dataset(cfg.data.dataset_file).descriptions
        return {c: list(found.get(c, ())) for c in range(len(names_of(cfg)))}
    num_classes = len(names_of(cfg))
    return read_descriptions(cfg.text.descriptions, num_classes, cfg.text.descriptions_format,
                             cfg.text.descriptions_columns)


def write_json(path: Path, obj: Any) -> Path:
    """Pretty JSON with sorted keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True), encoding="utf-8")
    return path
