"""docs/training.md stays runnable: every `scale` / torchrun command parses and its config loads; Table 1 is right."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from cli.main import build_parser
from cli.train import COMMANDS, parse_override
from training.config import load_config
from training.evaluate import PAPER_TOP1
from training.splits import SETTINGS

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "training.md").read_text(encoding="utf-8")


def documented_commands() -> list[list[str]]:
    """Argument lists after `scale` (or torchrun's `-m cli.main`) in bash blocks and inline code spans."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", DOC, re.S)
             for line in block.replace("\\\n", " ").splitlines()]
    # inline spans that are whole commands; `scale evaluate` or `scale train-encoder [--resume]` only name one
    lines += [span for span in re.findall(r"`((?:scale|torchrun) [^`]+)`", DOC)
              if ("--config" in span or " --out " in span) and "[" not in span]
    found = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if "..." in line or not words:
            continue
        if words[0] == "torchrun":
            found.append(words[words.index("cli.main") + 1:])
        elif words[0] == "scale" and len(words) > 1 and not words[1].startswith("<"):
            found.append(words[1:])
    return found


COMMANDS_IN_DOC = documented_commands()


def test_the_doc_shows_every_training_subcommand_and_torchrun():
    shown = {argv[0] for argv in COMMANDS_IN_DOC}
    assert {"prepare", "pipeline", "ablate", "export", "train-encoder"} <= shown
    assert set(COMMANDS) <= shown | {f"{c}" for c in re.findall(r"`scale ([a-z-]+)", DOC)}
    assert "torchrun --nproc_per_node=8 -m cli.main train-encoder" in DOC


@pytest.mark.parametrize("argv", COMMANDS_IN_DOC, ids=lambda a: " ".join(a)[:80])
def test_documented_command_parses_and_its_config_loads(argv, tmp_path):
    args = build_parser().parse_args(argv)  # unknown flags or subcommands exit here
    if args.command in COMMANDS:
        overrides = dict(parse_override(o) for o in args.overrides)
        if args.output:
            overrides["output"] = args.output
        config = REPO / args.config
        if args.config == "runs/tryit/tryit.toml":  # the try-it section's config, as `scale try-it` writes it
            assert build_parser().parse_args(["try-it", "runs/tryit"]).func(argparse.Namespace(out=tmp_path)) == 0
            config = tmp_path / "tryit.toml"
        cfg = load_config(config, overrides)
        assert cfg.data.setting in SETTINGS or cfg.data.dataset_file


def test_table1_rows_give_the_papers_figure_for_both_routes():
    rows = re.findall(r"^\| NTU-\d+ \d+/\d+ \| `scale pipeline ([^`]+)` \| ([\d.]+) \|$", DOC, re.M)
    settings = [re.search(r"data\.setting=(\w+)", cmd).group(1) for cmd, _ in rows]
    assert sorted(settings) == sorted(list(SETTINGS) * 2)  # raw route and feature-folder route
    for (cmd, figure), setting in zip(rows, settings, strict=True):
        assert float(figure) == PAPER_TOP1[setting], cmd
        assert f"--output runs/{'feat_' if 'data.features' in cmd else ''}{setting}" in cmd
        cache = "ntu60" if setting.startswith("ntu60") else "ntu120"
        assert "data.features" in cmd or f"runs/cache/{cache}'" in cmd
