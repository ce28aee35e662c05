"""`scale doctor`: check the serving setup on this host or in the container (exit 1 on any problem)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MARKS = {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]"}


def register(subparsers: Any) -> None:
    """Add the `doctor` subcommand."""
    p = subparsers.add_parser("doctor", help="check onnxruntime, CUDA, bundle, Redis and API key settings",
                              description="Checks what `scale serve` would use (SCALE_* environment, flags "
                                          "override it) and exits 1 when something is wrong; see docs/doctor.md.")
    p.add_argument("--bundle", help="model bundle directory (SCALE_BUNDLE_PATH)")
    p.add_argument("--redis-url", help="registry URL (REDIS_URL)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), help="onnxruntime device (SCALE_DEVICE)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print every check; 0 when none failed (warnings allowed), 1 otherwise, 2 for invalid settings."""
    from service.engine.doctor import run_checks
    from service.settings import SettingsError, load_settings

    given = {"bundle_path": args.bundle, "redis_url": args.redis_url, "device": args.device}
    try:
        settings = load_settings(**{k: v for k, v in given.items() if v is not None})
    except SettingsError as exc:
        print(f"scale doctor: {exc}", file=sys.stderr)
        return 2
    checks = run_checks(settings)
    failed = [c for c in checks if c.status == "fail"]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [vars(c) for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"{MARKS[c.status]} {c.name}: {c.detail}")
        print(f"{len(failed)} problem(s)" if failed else "no problems found", file=sys.stderr)
    return 1 if failed else 0
