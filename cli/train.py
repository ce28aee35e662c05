"""`scale prepare | train-encoder | extract | train-scorer | evaluate | ablate | pipeline` (offline stages)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport has the same API
    import tomli as tomllib  # type: ignore[no-redef]

# subcommand -> (help, takes --resume)
COMMANDS: dict[str, tuple[str, bool]] = {
    "prepare": ("raw NTU .skeleton folder or CTR-GCN npz -> preprocessed X-sub cache", False),
    "train-encoder": ("train Shift-GCN on the seen classes of the split", True),
    "extract": ("write encoder features in the SynSE/SA-DVAE folder layout", False),
    "train-scorer": ("train the SCALE scorer (one per eval seed, honest model selection)", True),
    "evaluate": ("ZSL / GZSL results over seeds -> results.json + results.md", False),
    "ablate": ("ablation rows of Tables 3-5 -> ablation/ablation.{json,md}", True),
    "pipeline": ("every stage end to end from one config", True),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the training subcommands to the root `scale` parser."""
    for name, (help_text, resumable) in COMMANDS.items():
        p = subparsers.add_parser(name, help=help_text, description=help_text,
                                  epilog="Stages, outputs and the exact Table 1 commands: docs/training.md")
        p.add_argument("--config", required=True, help="pipeline TOML file (e.g. configs/paper.toml)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one config value (repeatable); VALUE is read as TOML, e.g. "
                            "eval.seeds=[0,1,2] or data.skeletons=\"'/data/ntu'\"")
        p.add_argument("--output", help="shortcut for --set output=DIR")
        p.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bars")
        if resumable:
            p.add_argument("--resume", action="store_true", help="continue from the last saved epoch")
        if name == "prepare":
            p.add_argument("--workers", type=int, default=None, help="parallel parser processes")
        if name == "pipeline":
            p.add_argument("--ablate", action="store_true", help="also run the ablation rows")
        p.set_defaults(func=_run, stage=name)
    t = subparsers.add_parser("try-it", help="write a small generated dataset + config to try the pipeline on a CPU",
                              epilog="Then follow the printed commands (docs/training.md, first section)")
    t.add_argument("out", help="folder to write (data/, tryit.toml; the run goes to OUT/run)")
    t.set_defaults(func=_try_it)


def _try_it(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.tryit import write_tryit_config, write_tryit_dataset

    out = Path(args.out)
    if (out / "data" / "dataset.toml").exists():
        print(f"scale try-it: error: {out} already holds a try-it dataset", file=sys.stderr)
        return 2
    config = write_tryit_config(out, write_tryit_dataset(out / "data").resolve())
    print(f"wrote {out / 'data'} (20 classes, 600 clips) and {config}\nnext:\n"
          f"  scale pipeline --config {config}\n  cat {out / 'run' / 'results.md'}")
    return 0


def parse_override(text: str) -> tuple[str, Any]:
    """'section.key=value' -> (dotted key, TOML-typed value; a bare word stays a string)."""
    if "=" not in text:
        raise ValueError(f"--set needs SECTION.KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _run(args: argparse.Namespace) -> int:
    from model.text import MissingWeightsError
    from training.config import load_config
    from training.readers import FeatureFolderError

    try:
        overrides = dict(parse_override(o) for o in args.overrides)
        if args.output:
            overrides["output"] = args.output
        cfg = load_config(args.config, overrides)
        result = _dispatch(args, cfg)
    except (ValueError, FileNotFoundError, KeyError, MissingWeightsError, FeatureFolderError) as exc:
        print(f"scale {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":  # under torchrun, process 0 alone reports
        return 0
    print(json.dumps(result, default=str, indent=1) if not isinstance(result, str) else result)
    return 0


def _dispatch(args: argparse.Namespace, cfg: Any) -> Any:
    from training import stages
    from training.threads import set_threads

    set_threads(cfg.compute.threads)

    progress, resume = not args.no_progress, getattr(args, "resume", False)
    if args.stage == "prepare":
        return str(stages.run_prepare(cfg, progress, args.workers))
    if args.stage == "train-encoder":
        return str(stages.run_encoder(cfg, resume, progress))
    if args.stage == "extract":
        return str(stages.run_extract(cfg, progress))
    if args.stage == "train-scorer":
        return [str(p) for p in stages.run_scorer(cfg, resume, progress)]
    if args.stage == "evaluate":
        return _summaries(stages.run_evaluate(cfg))
    if args.stage == "ablate":
        return {k: v["summary"] for k, v in stages.run_ablate(cfg, resume, progress).items()}
    return _summaries(stages.run_pipeline(cfg, resume, progress, ablate=args.ablate))


def _summaries(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("summary", v) for k, v in results.items() if isinstance(v, dict)}
