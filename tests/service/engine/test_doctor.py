"""`scale doctor`: package clash, CUDA session really initialising (faked here: no GPU), bundle, Redis, API key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import service.engine.doctor as doctor
from cli.main import main as scale
from service.settings import Settings
from tests.service.svc_support import tiny_bundle

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


class FakeSession:
    def __init__(self, providers: list[str]) -> None:
        self._providers = providers

    def get_providers(self) -> list[str]:
        return self._providers


def _settings(**values) -> Settings:
    return Settings(**{"bundle_path": tiny_bundle().path, "redis_url": None, "device": "auto", **values})


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


@pytest.mark.unit
def test_cpu_onnxruntime_next_to_the_gpu_build_is_refused() -> None:
    clash = doctor.check_packages({"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"})
    assert clash.status == "fail" and "pip uninstall onnxruntime" in clash.detail and "onnxruntime-gpu" in clash.detail
    assert doctor.check_packages({"onnxruntime-gpu": "1.31.1"}).status == "ok"
    assert doctor.check_packages({"onnxruntime": "1.31.1"}).status == "ok"
    assert doctor.check_packages({}).status == "fail"


@pytest.mark.unit
def test_cuda_session_must_really_run_on_cuda(tmp_path: Path) -> None:
    graphs = [("encoder", tmp_path / "encoder.onnx"), ("text", tmp_path / "text.onnx")]
    available = ["TensorrtExecutionProvider", CUDA, CPU]
    tried: list[list[str]] = []

    def on_cuda(path: Path, providers: list[str]) -> FakeSession:
        tried.append(providers)
        return FakeSession([CUDA, CPU])

    ok = _by_name(doctor.check_cuda(_settings(), available, ["NVIDIA H100 80GB HBM3"], graphs, on_cuda))
    assert ok["GPU"].detail == "NVIDIA H100 80GB HBM3"
    assert ok["CUDA session (encoder)"].status == ok["CUDA session (text)"].status == "ok"
    assert tried == [[CUDA, CPU]] * 2

    # listed but the libraries do not load: onnxruntime quietly runs the session on CPU
    fell_back = _by_name(doctor.check_cuda(_settings(), available, ["NVIDIA H100"], graphs,
                                           lambda p, prov: FakeSession([CPU])))
    assert fell_back["CUDA session (encoder)"].status == "fail" and "fell back" in fell_back["CUDA session (encoder)"].detail

    def broken(path: Path, providers: list[str]) -> FakeSession:
        raise RuntimeError("libcudnn.so.9: cannot open shared object file")

    raised = _by_name(doctor.check_cuda(_settings(), available, ["NVIDIA H100"], graphs, broken))
    assert raised["CUDA session (text)"].status == "fail" and "libcudnn" in raised["CUDA session (text)"].detail
    no_provider = _by_name(doctor.check_cuda(_settings(), [CPU], ["NVIDIA H100"], graphs, on_cuda))
    assert no_provider["CUDA provider"].status == "fail"


@pytest.mark.unit
def test_no_gpu_is_fine_unless_cuda_is_required(tmp_path: Path) -> None:
    def never(path: Path, providers: list[str]) -> FakeSession:
        raise AssertionError("no session is tried without a GPU")

    assert [c.status for c in doctor.check_cuda(_settings(), [CPU], [], [], never)] == ["ok"]
    assert [c.status for c in doctor.check_cuda(_settings(), [CUDA, CPU], [], [], never)] == ["warn"]
    (required,) = doctor.check_cuda(_settings(device="cuda"), [CUDA, CPU], [], [], never)
    assert required.status == "fail" and "SCALE_DEVICE=cuda" in required.detail
    assert [c.status for c in doctor.check_cuda(_settings(device="cpu"), [CUDA, CPU], ["GPU"], [], never)] == ["ok"]


@pytest.mark.integration
def test_bundle_redis_and_api_key_checks(tmp_path: Path, redis_server) -> None:
    checks = _by_name(doctor.run_checks(_settings(redis_url=redis_server.url, api_key="k" * 12)))
    assert checks["bundle"].status == "ok" and tiny_bundle().path.name in checks["bundle"].detail
    assert checks["text graph"].status == "warn"  # the tiny bundle predates text graphs: torch path
    assert checks["redis"].status == "ok" and checks["api key"].status == "ok"
    assert checks["encoder runtime"].status == "ok" and checks["encoder runtime"].detail.startswith(
        ("openvino f32", "onnxruntime f32"))
    forced = _by_name(doctor.run_checks(_settings(encoder_runtime="onnxruntime", encoder_precision="bf16")))
    assert forced["encoder runtime"].status == "fail" and "bf16" in forced["encoder runtime"].detail
    # a damaged graph is named; unreachable Redis and open writes are reported
    damaged = Path(shutil.copytree(tiny_bundle().path, tmp_path / "bundle"))
    (damaged / "sample_side.onnx").write_bytes(b"not a graph")
    bad = _by_name(doctor.run_checks(_settings(bundle_path=damaged, redis_url="redis://127.0.0.1:9/0")))
    assert bad["bundle"].status == "fail" and "sample_side.onnx" in bad["bundle"].detail
    assert bad["redis"].status == "fail" and "127.0.0.1:9" in bad["redis"].detail
    assert bad["api key"].status == "warn"
    missing = _by_name(doctor.run_checks(_settings(bundle_path=tmp_path / "nowhere")))
    assert missing["bundle"].status == "fail"


@pytest.mark.integration
def test_cli_exit_status_and_json(redis_server, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    for name in ("SCALE_API_KEY", "SCALE_DEVICE", "REDIS_URL", "SCALE_REDIS_URL", "SCALE_BUNDLE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCALE_API_KEY", "secret-key-123")
    args = ["doctor", "--bundle", str(tiny_bundle().path), "--device", "cpu"]
    assert scale([*args, "--redis-url", redis_server.url]) == 0
    out = capsys.readouterr().out
    assert "[ OK ] redis" in out and "[WARN] text graph" in out
    assert scale([*args, "--redis-url", "redis://127.0.0.1:9/0", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and {c["name"] for c in report["checks"] if c["status"] == "fail"} == {"redis"}
    assert scale(["doctor", "--redis-url", "http://nope"]) == 2
