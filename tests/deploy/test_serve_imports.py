"""The `serve` install covers what serving imports: every third-party import (module level or lazy) in the
modules `scale serve` loads for a bundle with a text graph resolves to a package pinned in
deploy/constraints.txt, the closure the images install. (A lazy `import ftfy` once slipped past this way.)"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .test_dockerfiles import constraint_pins

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit
OURS = ("model", "service", "cli", "client", "training")
# imported only on the torch path (bundles without a text graph, demo builds), which the images do not serve
TRAINING_ONLY = {"torch", "open_clip", "torchvision", "onnx", "onnxscript", "training", "tqdm"}

_LOADED = f"""
import json, sys
import cli.main, cli.serve, service.app, model.text_onnx
from service.app import create_app
from service.settings import Settings
create_app(Settings())
print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())
                        if n.split('.')[0] in {OURS!r} and getattr(m, '__file__', None))))
"""


def serving_modules() -> list[Path]:
    """Our source files imported by the serving entry points, found by importing them in a fresh process."""
    done = subprocess.run([sys.executable, "-c", _LOADED], cwd=REPO, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return [Path(p) for p in json.loads(done.stdout.splitlines()[-1])]


def imported_top_levels(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file, including imports inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_of_the_serving_path_is_pinned() -> None:
    modules = serving_modules()
    assert any(p.name == "text_onnx.py" for p in modules) and not any("training" in p.parts for p in modules)
    distributions = md.packages_distributions()
    pins = constraint_pins()
    unpinned = {}
    for path in modules:
        for name in imported_top_levels(path) - set(sys.stdlib_module_names) - set(OURS) - TRAINING_ONLY - {"__future__"}:
            dists = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
            if not dists & set(pins):
                unpinned[f"{path.relative_to(REPO)}: import {name}"] = sorted(dists)
    assert not unpinned, f"imports the serve install does not provide: {unpinned}"


def test_the_scanner_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\nfrom a.b import c\n\ndef f():\n    import ftfy\n    from . import x\n")
    assert imported_top_levels(source) == {"os", "a", "ftfy"}
