"""docker/demo/build.sh ends with its own next step (the demo image), not with `scale serve`'s wording."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def test_the_last_line_names_the_bundle_folder_and_the_compose_step(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    stub = tmp_path / "python"  # stands in for the training interpreter: records its arguments, builds nothing
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\necho "built the demo bundle (reused on the next start)" >&2\n')
    stub.chmod(0o755)
    done = subprocess.run([str(REPO / "docker" / "demo" / "build.sh"), str(stub)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split("\n")[-2] == "docker/demo/bundle"  # the folder the demo target copies
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("docker/demo/build.sh: ") and "docker compose --profile demo" in last
    assert "next start" not in last
