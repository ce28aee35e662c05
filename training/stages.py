"""One function per `scale` training subcommand; each validates its inputs, then runs from a PipelineConfig."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from training.config import PipelineConfig
from training.pipeline import (
    descriptions_of,
    features_dir,
    has_raw_clips,
    load_clips,
    names_of,
    prepare,
    split_of,
    validate_inputs,
    write_json,
)


def run_prepare(cfg: PipelineConfig, progress: bool = True, workers: int | None = None) -> Path:
    """`scale prepare`: raw skeletons -> cache."""
    validate_inputs(cfg, ("prepare",))
    return prepare(cfg, progress, workers)


def run_encoder(cfg: PipelineConfig, resume: bool = False, progress: bool = True) -> Path:
    """`scale train-encoder`: Shift-GCN on the seen classes' X-sub training clips -> <output>/encoder/encoder.pt."""
    from training.encoder_train import train_encoder

    validate_inputs(cfg, ("encoder",))
    split = split_of(cfg)
    (tx, ty), (vx, vy) = load_clips(cfg)
    idx = np.flatnonzero(np.isin(ty, split.seen))
    vidx = np.flatnonzero(np.isin(vy, split.seen))
    val = (vx, vy[vidx], vidx) if len(vidx) else None
    return train_encoder(tx, ty[idx], list(split.seen), cfg.encoder, cfg.out / "encoder", resume=resume,
                         progress=progress, val=val, index=idx)


def _val_classes(cfg: PipelineConfig) -> list[int]:
    from training.splits import pseudo_unseen_split

    sc = cfg.scorer
    vs = pseudo_unseen_split(split_of(cfg), num_val=sc.num_val or None, seed=sc.val_seed, source=sc.val_source)
    return list(vs.pseudo_unseen)


def run_extract(cfg: PipelineConfig, progress: bool = True) -> Path:
    """`scale extract`: encoder features -> <output>/features in the peers' folder layout."""
    from training.extract import extract_features

    validate_inputs(cfg, ("extract",))
    encoder = cfg.out / "encoder" / "encoder.pt"
    if not encoder.is_file():
        raise FileNotFoundError(f"{encoder} not found: run `scale train-encoder` first")
    train, test = load_clips(cfg)
    return extract_features(encoder, train, test, split_of(cfg), cfg.out / "features", _val_classes(cfg),
                            device=cfg.encoder.device, progress=progress)


def texts_for(cfg: PipelineConfig) -> Any:
    """Conditionings of every class of the dataset (row = class id), cached under text.cache_dir."""
    from training.text_cache import class_texts

    names = names_of(cfg)
    cache = Path(cfg.text.cache_dir) if cfg.text.cache_dir else cfg.out / "text_cache"
    return class_texts(names, cfg.text.template, cache, cfg.text.weights, cfg.text.model_name,
                       cfg.text.random_init_seed)


def described_for(cfg: PipelineConfig, train_mode: str | None = None) -> Any:
    """Label plus description texts of every class (DescribedTexts), or None when text.descriptions is empty."""
    if not cfg.text.descriptions:
        return None
    from training.description_texts import described_texts

    t = cfg.text
    cache = Path(t.cache_dir) if t.cache_dir else cfg.out / "text_cache"
    return described_texts(names_of(cfg), descriptions_of(cfg), t.template,
                           cache, with_label=t.descriptions_with_label, prompt=t.descriptions_prompt,
                           train_mode=train_mode or t.descriptions_train, rule=t.descriptions_aggregate,
                           weights=t.weights, model_name=t.model_name, random_init_seed=t.random_init_seed)


def _scorer_meta(cfg: PipelineConfig) -> dict[str, Any]:
    """What `scale export` and the bundle manifest need to know about how the scorer was made."""
    return {"template": cfg.text.template, "model_name": cfg.text.model_name, "dataset": cfg.data.dataset,
            "class_names": cfg.data.class_names, "num_frames": cfg.data.num_frames,
            "features": str(features_dir(cfg))}


def run_scorer(cfg: PipelineConfig, resume: bool = False, progress: bool = True) -> list[Path]:
    """`scale train-scorer`: one scorer per eval seed -> <output>/scorer/seed<n>/scorer.pt."""
    from training.readers import read_feature_folder
    from training.scorer_train import train_scorer

    validate_inputs(cfg, ("scorer",))
    split = split_of(cfg)
    folder = read_feature_folder(features_dir(cfg), split)
    texts = described_for(cfg) or texts_for(cfg)
    paths = []
    for seed in cfg.eval.seeds:
        run = cfg.out / "scorer" / f"seed{seed}"
        train_scorer(folder.train.features, folder.train.labels, split, texts, cfg.scorer, run, seed=seed,
                     resume=resume, progress=progress, extra_meta=_scorer_meta(cfg))
        paths.append(run / "scorer.pt")
    return paths


def run_evaluate(cfg: PipelineConfig) -> dict[str, Any]:
    """`scale evaluate`: ZSL/GZSL of every seed's scorer -> <output>/results.{json,md}."""
    from training.evaluate import aggregate, evaluate_scorer, write_results
    from training.readers import read_feature_folder
    from training.scorer_train import load_scorer

    validate_inputs(cfg, ("evaluate",))
    split = split_of(cfg)
    folder = read_feature_folder(features_dir(cfg), split)
    paths = [cfg.out / "scorer" / f"seed{seed}" / "scorer.pt" for seed in cfg.eval.seeds]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"scorer checkpoints not found: {missing}; run `scale train-scorer` first")
    texts, described = texts_for(cfg), described_for(cfg)
    rows = {split.name: described or texts}  # the configured texts keep the setting's row and its paper figure
    if described is not None:
        rows[f"{split.name} label only"] = texts  # the same scorers scored with the label prompts alone
    scorers = [load_scorer(path) for path in paths]
    for path, (_, meta) in zip(paths, scorers, strict=True):
        check_scorer_matches(path, meta, split, texts)
    gtest = (folder.gtest.features, folder.gtest.labels) if folder.gtest is not None else None
    results = {}
    for row, row_texts in rows.items():
        runs = []
        for seed, (scorer, meta) in zip(cfg.eval.seeds, scorers, strict=True):
            metrics = evaluate_scorer(scorer, split, row_texts, (folder.ztest.features, folder.ztest.labels),
                                      gtest, cfg.eval.gzsl_calibration)
            runs.append({**metrics, "seed": seed, "selected_epoch": meta.get("selected_epoch"),
                         "val_top1": meta.get("val_top1")})
        results[row] = {"runs": runs, "summary": aggregate(runs), "config": cfg.to_dict(),
                        "protocol": {"selection": cfg.scorer.selection, "final": cfg.scorer.final,
                                     "text_weights": row_texts.weights_id,
                                     "real_text_weights": not row_texts.weights_id.startswith("random-init"),
                                     "gzsl_calibration": cfg.eval.gzsl_calibration,
                                     "texts": _texts_protocol(row_texts)}}
    write_results(cfg.out, results)
    return results


def _texts_protocol(texts: Any) -> dict[str, Any]:
    """How a results row scored its classes: label prompts only, or which description set and rule."""
    from training.description_texts import DescribedTexts

    if not isinstance(texts, DescribedTexts):
        return {"texts": "label"}
    return {"texts": "label+descriptions", "rule": texts.rule, "rows": len(texts.groups), "digest": texts.digest()}


def check_scorer_matches(path: Path, meta: dict[str, Any], split: Any, texts: Any) -> None:
    """Refuse a scorer trained for another setting or with other class prompts / text weights than the config's."""
    if meta.get("setting", split.name) != split.name or list(meta.get("seen", split.seen)) != list(split.seen):
        raise ValueError(f"{path} was trained for {meta.get('setting')}, not {split.name}; "
                         "use the output folder of that setting or re-run `scale train-scorer`")
    if "prompts" in meta and list(meta["prompts"]) != list(texts.prompts):
        raise ValueError(f"{path} was trained with other class prompts than data.class_names / text.template give "
                         "now; evaluate with the training config or re-run `scale train-scorer`")
    if meta.get("weights_id", texts.weights_id) != texts.weights_id:
        raise ValueError(f"{path} was trained with text weights {meta['weights_id']}, but the config gives "
                         f"{texts.weights_id}; evaluate with the same CLIP weights")


def run_ablate(cfg: PipelineConfig, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """`scale ablate`: Tables 3-5 rows over the eval seeds -> <output>/ablation/ablation.{json,md}."""
    from training.ablation import run_ablation, variant_names
    from training.readers import read_feature_folder

    validate_inputs(cfg, ("ablate",))
    split = split_of(cfg)
    folder = read_feature_folder(features_dir(cfg), split)
    names = variant_names(cfg.ablation.variants, cfg.ablation.alphas, cfg.ablation.extra)
    described = described_for(cfg)
    if described is not None:  # label-only "full" against full + descriptions, trained each configured way
        names += [f"descriptions_{mode}" for mode in cfg.ablation.descriptions]
    gtest = (folder.gtest.features, folder.gtest.labels) if folder.gtest is not None else None
    return run_ablation((folder.train.features, folder.train.labels),
                        (folder.ztest.features, folder.ztest.labels), gtest, split, texts_for(cfg), cfg.scorer,
                        names, cfg.eval.seeds, cfg.out / "ablation", cfg.eval.gzsl_calibration, resume, progress,
                        described=described)


def run_pipeline(cfg: PipelineConfig, resume: bool = False, progress: bool = True,
                 ablate: bool = False) -> dict[str, Any]:
    """`scale pipeline`: prepare (when needed) -> encoder -> extract -> scorer -> evaluate (-> ablate)."""
    from training.pipeline import cache_root, check_text_weights

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("`scale pipeline` runs in one process; under torchrun use `scale train-encoder`, "
                         "then run extract / train-scorer / evaluate without torchrun")
    from_features = bool(cfg.data.features)
    have_cache = (cache_root(cfg) / "xsub" / "train_data.npy").is_file()
    stages: tuple[str, ...] = ("scorer", "evaluate") if from_features else \
        (("encoder", "extract") if have_cache else ("prepare",))
    if stages == ("prepare",) and not has_raw_clips(cfg):
        raise FileNotFoundError(f"no skeleton cache at {cache_root(cfg) / 'xsub'} and data.skeletons "
                                f"{cfg.data.skeletons!r} not found: point data.cache at a prepared cache, "
                                "data.skeletons at the raw data, or data.features at a feature folder")
    validate_inputs(cfg, stages + (("ablate",) if ablate else ()))
    check_text_weights(cfg)  # the scorer stage comes last: a missing CLIP file must stop us first
    write_json(cfg.out / "config.json", cfg.to_dict())
    if not from_features:
        if not have_cache:
            prepare(cfg, progress)
        run_encoder(cfg, resume, progress)
        run_extract(cfg, progress)
    run_scorer(cfg, resume, progress)
    results = run_evaluate(cfg)
    if ablate:
        results["ablation"] = run_ablate(cfg, resume, progress)
    return results
