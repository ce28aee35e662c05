"""Installed size of each way to install the project, from the package metadata of one environment.

For an install target (the default dependencies, `.[dev]`, or the serving set the images install) the script
walks the requirement closure through the installed distributions' metadata (markers and extras evaluated)
and adds up the file sizes their RECORD lists. Run it with the interpreter of an environment that holds the
full development install: `.venv/bin/python -m benchmarks.install_size [--json out.json]`."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tomllib
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def _wanted(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in extras | {""})


def closure(requirements: list[str]) -> dict[str, Distribution]:
    """Every installed distribution the requirements pull in, by canonical name."""
    found: dict[str, Distribution] = {}
    todo = [(Requirement(r), set()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        if not _wanted(req, parent_extras):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            print(f"note: {name} is not installed here; not counted", file=sys.stderr)
            continue
        seen = name in found
        found[name] = dist
        if seen and not req.extras:
            continue
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or []]
    return found


def megabytes(dists: dict[str, Distribution]) -> float:
    """Sum of the RECORD file sizes (files without a recorded size are measured on disk)."""
    total = 0
    for dist in dists.values():
        for f in dist.files or []:
            if f.size is not None:
                total += f.size
            else:
                path = Path(dist.locate_file(f))
                total += path.stat().st_size if path.is_file() else 0
    return total / 1e6


def main() -> None:
    """Print (and optionally store) the size of the default, dev and serving installs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    targets = {
        "pip install -e .  (default: training + serving, torch with CUDA wheels)": project["dependencies"],
        "pip install -e '.[dev]'  (default + test tools; what CI and the README's test command use)":
            project["dependencies"] + extras["dev"],
        "serving only (the `serve` extra + the package with --no-deps; what the images install)": extras["serve"],
    }
    rows = {}
    for label, reqs in targets.items():
        dists = closure(reqs)
        big = sorted(dists.values(), key=lambda d: -sum(f.size or 0 for f in d.files or []))[:4]
        rows[label] = {"packages": len(dists), "megabytes": round(megabytes(dists)),
                       "largest": [d.metadata["Name"] for d in big]}
    report = {"python": platform.python_version(), "environment": sys.prefix, "installs": rows}
    for label, row in rows.items():
        print(f"{row['megabytes']:>7,} MB  {row['packages']:>3} packages  {label}  (largest: {', '.join(row['largest'])})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
