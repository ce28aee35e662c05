"""The GPU target's CUDA libraries match what its onnxruntime-gpu build needs: the pinned nvidia wheels satisfy
the pinned onnxruntime-gpu wheel's own `cuda`/`cudnn` extras (read from its metadata), at its CUDA major."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .test_dockerfiles import constraint_pins

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def extra_requirements(extras: tuple[str, ...] = ("cuda", "cudnn")) -> list[Requirement]:
    """Requires-Dist entries of the installed onnxruntime-gpu that only its given extras pull in."""
    found = []
    for line in md.requires("onnxruntime-gpu") or []:
        req = Requirement(line)
        if req.marker is not None and any(req.marker.evaluate({"extra": e}) for e in extras):
            found.append(req)
    return found


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    pins = constraint_pins()
    installed = md.version("onnxruntime-gpu")
    # the metadata read below must be the pinned wheel's: CI installs with -c deploy/constraints.txt
    assert installed == pins["onnxruntime-gpu"], (
        f"onnxruntime-gpu {installed} is installed but deploy/constraints.txt pins {pins['onnxruntime-gpu']}")
    return pins


def test_pinned_cuda_wheels_satisfy_the_pinned_onnxruntime_extras(pins: dict[str, str]) -> None:
    reqs = extra_requirements()
    names = {r.name.lower() for r in reqs}
    assert any(n.startswith("nvidia-cuda-runtime") for n in names) and any("cudnn" in n for n in names)
    for req in reqs:
        name = req.name.lower()
        assert name in pins, f"onnxruntime-gpu[cuda,cudnn] needs {req}, not pinned in deploy/constraints.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {req}"


def test_cuda_major_of_the_build_matches_the_pinned_runtime_and_cudnn(pins: dict[str, str]) -> None:
    spec = importlib.util.find_spec("onnxruntime")
    info = Path(spec.origin).parent / "capi" / "build_and_package_info.py"
    cuda_version = re.search(r"cuda_version = '(\d+)\.\d+'", info.read_text()).group(1)
    runtime = next(n for n in pins if n.startswith("nvidia-cuda-runtime"))
    assert pins[runtime].split(".")[0] == cuda_version
    cudnn = [n for n in pins if n.startswith("nvidia-cudnn")]
    assert cudnn == [f"nvidia-cudnn-cu{cuda_version}"]
    stale = [n for n in pins if re.search(r"-cu(\d+)$", n) and not n.endswith(f"-cu{cuda_version}")]
    assert not stale, f"pins for another CUDA major: {stale}"
    notes = (REPO / "deploy" / "constraints.txt").read_text()
    assert f"CUDA {cuda_version} build" in notes  # the header tells deployers which driver they need


def test_extra_reader_ignores_the_base_requirements() -> None:
    base = {Requirement(r).name for r in md.requires("onnxruntime-gpu") or [] if ";" not in r}
    assert base and not base & {r.name for r in extra_requirements()}
    assert extra_requirements(("no-such-extra",)) == []
