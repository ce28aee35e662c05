"""docker/cuda_libs.py, the GPU image's build-time check, reports what is missing (no GPU needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def cuda_libs():
    spec = importlib.util.spec_from_file_location("cuda_libs", REPO / "docker" / "cuda_libs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cuda_libs"] = module
    spec.loader.exec_module(module)
    return module


def test_expected_list_names_the_cuda_runtime_and_cudnn_sonames(cuda_libs) -> None:
    names = {p.name for p in cuda_libs.expected_libraries()}
    assert any(n.startswith("libcudart.so.") for n in names) and "libcudnn.so.9" in names


def test_a_missing_library_is_named_and_fails(cuda_libs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    site = cuda_libs.site_packages()
    monkeypatch.setattr(cuda_libs, "expected_libraries", lambda: [site / "nvidia" / "cu99" / "lib" / "libcudart.so.99"])
    assert cuda_libs.main(["cuda_libs.py", "check"]) == 1
    assert "missing nvidia/cu99/lib/libcudart.so.99" in capsys.readouterr().err


def test_unresolved_ignores_only_the_driver_library(cuda_libs, tmp_path: Path) -> None:
    provider = Path(cuda_libs.onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not provider.is_file():
        pytest.skip("this onnxruntime build has no CUDA provider")
    missing = cuda_libs.unresolved(provider, [tmp_path])  # nothing on the path: CUDA libs come from nowhere
    assert "libcuda.so.1" not in missing
    # where the nvidia wheels are installed ldd finds them; otherwise cudart is reported
    assert cuda_libs.library_dirs() or any(n.startswith("libcudart.so.") for n in missing)
