"""`scale export` (encoder + scorer checkpoints -> model bundle) and `scale demo-bundle`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = "The Human Action of {label}"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` and `demo-bundle` subcommands to the root `scale` parser."""
    p = subparsers.add_parser("export", help="export an encoder and a scorer checkpoint as a model bundle")
    p.add_argument("--encoder", required=True, help="Shift-GCN checkpoint (flat state_dict, or with 'state_dict'/'model')")
    p.add_argument("--scorer", required=True, help="scorer checkpoint (training's scorer.pt, or a plain state_dict)")
    p.add_argument("--scorer-config", help="ScaleConfig JSON, needed when --scorer is a plain state_dict")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--num-frames", type=int, default=None,
                   help="preprocessing length T' (multiple of 4); default: the checkpoints' num_frames, else 300")
    p.add_argument("--clip-weights", help="CLIP file the class texts were encoded with (its sha256 is recorded)")
    p.add_argument("--text-weights-id", help="explicit text weights id (e.g. random-init:seed=0)")
    p.add_argument("--clip-model", default=None, help="default: the scorer's model_name, else ViT-B-32-quickgelu")
    p.add_argument("--prompt-template", default=None, help=f"default: the scorer's, else {DEFAULT_TEMPLATE!r}")
    p.add_argument("--training-json", help="JSON object with dataset/split/metrics to record in the manifest")
    p.add_argument("--score-temperature", type=float, default=None, help="default: feature_dim (256)")
    p.add_argument("--fp16", action="store_true", help="also write the fp16/ variant")
    p.add_argument("--text-graph", action=argparse.BooleanOptionalAction, default=None,
                   help="add text.onnx + tokenizer.json so the service needs no torch (default: yes with "
                        "--clip-weights; a random-init:seed=N weights id needs --text-graph)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    p.add_argument("--open-set-config", default=None,
                   help="pipeline TOML whose features' val part (pseudo-unseen classes) calibrates the open-set "
                        "threshold stored in the manifest (accepting --open-set-tpr of those samples)")
    p.add_argument("--open-set-tpr", type=float, default=0.95)
    p.set_defaults(func=_cmd_export)
    d = subparsers.add_parser("demo-bundle", help="build the demo bundle (random encoder; labels not meaningful)")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--num-frames", type=int, default=300)
    d.set_defaults(func=_cmd_demo)


def _json_file(path: str | None, what: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"scale export: cannot read {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SystemExit(f"scale export: {what} {path} must hold a JSON object")
    return data


def load_encoder(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(Shift-GCN, meta) from the official flat state_dict or a training checkpoint ('state_dict'/'model')."""
    from model.shift_gcn import ShiftGCN, load_shift_gcn
    from training.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    if not isinstance(state, dict):
        raise SystemExit(f"scale export: {path} is not a Shift-GCN checkpoint (expected a dict of tensors)")
    meta = {k: v for k, v in state.items() if k in ("seen_classes", "num_class", "epochs", "num_frames")}
    inner = state.get("model")
    if isinstance(inner, dict) and "fc.weight" in inner:
        model = ShiftGCN(num_class=int(inner["fc.weight"].shape[0]))
        model.load_state_dict({k.removeprefix("module."): v for k, v in inner.items()}, strict=True)
        return model.eval(), meta
    return load_shift_gcn(path), meta


def _num_frames(args: argparse.Namespace, enc_meta: dict[str, Any], meta: dict[str, Any]) -> int:
    """--num-frames, else the length the encoder and the scorer's features were made with (they must agree)."""
    if args.num_frames is not None:
        return args.num_frames
    found = {src: int(m["num_frames"]) for src, m in (("encoder", enc_meta), ("scorer", meta)) if "num_frames" in m}
    if len(set(found.values())) > 1:
        raise SystemExit(f"scale export: checkpoints disagree on num_frames {found}; pass --num-frames explicitly")
    return next(iter(found.values()), 300)


def load_scorer_any(path: str | Path, config_path: str | None) -> tuple[Any, dict[str, Any]]:
    """(ScaleScorer, meta) from training's scorer file, or a plain state_dict plus a ScaleConfig JSON."""
    from model.config import ScaleConfig
    from model.scorer import ScaleScorer
    from training.checkpoint import load_checkpoint
    from training.scorer_train import load_scorer

    state = load_checkpoint(path)
    if not isinstance(state, dict):
        raise SystemExit(f"scale export: {path} is not a scorer checkpoint (expected a dict of tensors)")
    if "scale_config" in state:
        return load_scorer(path)
    if not config_path:
        raise SystemExit(f"scale export: {path} is a plain state_dict; pass --scorer-config with its ScaleConfig")
    scorer = ScaleScorer(ScaleConfig.from_dict(_json_file(config_path, "scorer config")))
    scorer.load_state_dict(state.get("model", state) if isinstance(state.get("model"), dict) else state, strict=True)
    return scorer.eval(), {}


def _weights_id(args: argparse.Namespace, meta: dict[str, Any]) -> str:
    if args.text_weights_id:
        return args.text_weights_id
    if args.clip_weights:
        from model.text import sha256_file

        return f"sha256:{sha256_file(Path(args.clip_weights))}"
    recorded = meta.get("weights_id")  # training/scorer_train.py records the tower the texts came from
    if recorded:
        return str(recorded)
    raise SystemExit("scale export: the scorer does not record its text weights; pass --clip-weights or "
                     "--text-weights-id so the service can refuse a mismatched CLIP tower")


def _cmd_export(args: argparse.Namespace) -> int:
    from model.bundle_spec import TextInfo
    from model.config import PreprocessConfig
    from training.export import export_bundle

    try:
        # bad inputs (missing/foreign checkpoint, missing CLIP file, bad template) are refused before any export
        encoder, enc_meta = load_encoder(args.encoder)
        scorer, meta = load_scorer_any(args.scorer, args.scorer_config)
        template = args.prompt_template or meta.get("template") or DEFAULT_TEMPLATE
        model_name = args.clip_model or meta.get("model_name") or "ViT-B-32-quickgelu"
        info = TextInfo(model_name=model_name, prompt_template=template, weights_id=_weights_id(args, meta))
    except (ValueError, OSError, RuntimeError) as exc:  # RuntimeError: load_state_dict key/shape mismatch
        print(f"scale export: {exc}", file=sys.stderr)
        return 2
    try:
        text_encoder = _text_tower(args, info)
    except (ValueError, OSError, RuntimeError) as exc:  # MissingWeightsError is a RuntimeError
        print(f"scale export: {exc}", file=sys.stderr)
        return 2
    training = json.loads(json.dumps({**meta, **({"encoder": enc_meta} if enc_meta else {})}, default=str))
    training.update(_json_file(args.training_json, "training JSON"))
    training["real_text_weights"] = not info.weights_id.startswith("random-init")
    note = "" if training["real_text_weights"] else \
        f"trained with a random text tower ({info.weights_id}), not the real CLIP weights"
    try:
        open_set = None
        if args.open_set_config:
            from training.openset_calib import calibrate_from_config

            open_set = calibrate_from_config(args.open_set_config, scorer, args.open_set_tpr)
        out = export_bundle(args.out, encoder, scorer, open_set=open_set,
                            preprocess=PreprocessConfig(num_frames=_num_frames(args, enc_meta, meta)),
                            text=info, training=training, score_temperature=args.score_temperature,
                            fp16=args.fp16, overwrite=args.overwrite, text_encoder=text_encoder, note=note)
    except (FileExistsError, ValueError) as exc:  # BundleError and config errors are ValueErrors
        print(f"scale export: {exc}", file=sys.stderr)
        return 2
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    print(json.dumps({"bundle": str(out), "bundle_version": manifest["bundle_version"],
                      "variants": manifest["variants"]}))
    return 0


def _text_tower(args: argparse.Namespace, info: Any) -> Any:
    """The CLIP text tower to export as text.onnx, or None (--no-text-graph, or no weights to build it from)."""
    import re

    from model.text import load_text_encoder

    seed = re.fullmatch(r"random-init:seed=(\d+)", info.weights_id)
    wanted = args.text_graph if args.text_graph is not None else bool(args.clip_weights)
    if not wanted:
        if args.text_graph is None:
            print("scale export: no --clip-weights, so no text graph: the service will need torch, open_clip and "
                  "the CLIP weights (pass --clip-weights, or --text-graph for a random-init tower)", file=sys.stderr)
        return None
    if args.clip_weights:
        return load_text_encoder(args.clip_weights, model_name=info.model_name, source="the --clip-weights flag")
    if seed is None:
        raise ValueError("--text-graph needs --clip-weights (the CLIP file to export) or a random-init:seed=N id")
    return load_text_encoder(model_name=info.model_name, random_init_seed=int(seed.group(1)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from training.demo import build_demo_bundle

    out = build_demo_bundle(args.out, seed=args.seed, num_frames=args.num_frames)
    print(out, file=sys.stdout)
    return 0
