"""The GPU script detects a machine without a GPU, says so, writes the no-gpu JSON and measures nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_run

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.unit
def test_gpu_run_reports_the_missing_gpu(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(gpu_run, "detect_gpu", lambda: {"torch_cuda": False, "device": None,
                                                        "ort_providers": ["CPUExecutionProvider"], "ort_cuda": False})
    monkeypatch.setattr(gpu_run, "encoder_and_scorer", lambda *a: pytest.fail("must not measure without a GPU"))
    assert gpu_run.main(["--out-dir", str(tmp_path)]) == gpu_run.NO_GPU_EXIT
    result = json.loads((tmp_path / "gpu_run.json").read_text())
    assert result["status"] == "no-gpu" and "GPU table pending" in result["message"]
    assert "no usable GPU" in capsys.readouterr().err


@pytest.mark.unit
def test_tensorrt_is_skipped_with_a_reason_when_not_offered(tmp_path: Path) -> None:
    (row,) = gpu_run.tensorrt_encoder(tmp_path, 1.0, tmp_path / "cache", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert "TensorrtExecutionProvider" in row["skipped"]


@pytest.mark.unit
def test_tensorrt_profile_spans_batch_one_to_the_max(tmp_path: Path) -> None:
    options = gpu_run.trt_provider_options(300, 256, True, tmp_path)
    assert options["trt_profile_min_shapes"] == "skeleton:1x3x300x25x2"
    assert options["trt_profile_max_shapes"] == "skeleton:256x3x300x25x2"
    assert options["trt_fp16_enable"] is True and options["trt_engine_cache_path"] == str(tmp_path)


@pytest.mark.integration
def test_gpu_run_script_on_this_machine(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the script would measure")
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_run.sh"), "--skip-tests"], cwd=REPO,
                          env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == gpu_run.NO_GPU_EXIT, proc.stdout + proc.stderr
    assert "no usable GPU" in proc.stderr
    assert json.loads((tmp_path / "gpu_run.json").read_text())["status"] == "no-gpu"
