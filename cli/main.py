"""Entry point of the `scale` command: each cli/ module adds its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `register(subparsers)`; subcommands set `func(args) -> int` via set_defaults.
COMMAND_MODULES = ("cli.train", "cli.export", "cli.serve", "cli.client", "cli.doctor", "cli.detect",
                   "cli.pose")


def build_parser() -> argparse.ArgumentParser:
    """Build the root parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="scale", description="SCALE zero-shot skeleton action recognition")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `scale` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
