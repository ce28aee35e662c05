"""`scale detect`, `scale stream`, `scale recognize` on the real PKU-MMD sample against a live service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from client import ScaleClient
from model.windows import window_starts
from tests.client.live_service import demo_bundle_path, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    bundle = demo_bundle_path(tmp_path_factory)
    with running_service(bundle, "", tmp_path_factory.mktemp("logs")) as url:
        with ScaleClient(url) as client:
            client.add_classes(["walking", "sitting down", "waving a hand"])
        yield url


@pytest.fixture(scope="module")
def sample(shared_data) -> Path:
    return shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt"


def demo_lines(err: str) -> list[str]:
    """stderr lines that carry a warning; the live service runs a demo bundle, so exactly its one line."""
    return [ln for ln in err.splitlines() if "warning" in ln.lower() or "NOT meaningful" in ln]


def test_detect_json_and_pkummd_then_eval(service, sample, tmp_path, capsys):
    assert main(["detect", str(sample), "--url", service, "--format", "json"]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)  # stdout stays parseable: the warning goes to stderr
    (line,) = demo_lines(captured.err)
    assert line.startswith("warning: ") and "NOT meaningful" in line
    assert answer["demo"] is True and answer["warnings"] == [line.removeprefix("warning: ")]
    assert answer["frames"] == 1040 and answer["window"]["count"] == len(window_starts(1040, 128, 32))
    assert answer["segments"] and answer["open_set"]["source"] in ("bundle", "none")
    pred = tmp_path / "A10N08-L.txt"
    assert main(["detect", str(sample), "--url", service, "--format", "pkummd", "--out", str(pred)]) == 0
    lines = pred.read_text().split()
    assert len(lines) == len(answer["segments"])
    labels = {"walking": 1, "sitting down": 2, "waving a hand": 3}
    first = answer["segments"][0]
    assert lines[0].split(",")[:3] == [str(labels[first["label"]]), str(first["start_frame"]),
                                       str(first["end_frame"])]
    # predictions scored against themselves: every segment matches itself one to one
    assert main(["detect-eval", str(pred), str(pred), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["matched"]) == {"0.1", "0.2", "0.3", "0.4", "0.5"}
    assert all(v == pytest.approx(1.0) for v in result["matched"].values())


def test_detect_table_prints_the_demo_warning_once(service, sample, capsys):
    assert main(["detect", str(sample), "--url", service]) == 0
    captured = capsys.readouterr()
    (line,) = demo_lines(captured.err)
    assert line.startswith("warning: ") and "NOT meaningful" in line
    assert captured.out.splitlines()[0].split() == ["START", "END", "LABEL", "ENERGY", "SCORE"]


def test_stream_replays_the_file(service, sample, capsys):
    assert main(["stream", str(sample), "--url", service, "--fps", "0", "--chunk", "52", "--json"]) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert events[0]["type"] == "ready" and events[0]["demo"] is True
    (line,) = demo_lines(captured.err)
    assert line == f"warning: {events[0]['warning']}" and "NOT meaningful" in line
    windows = [e for e in events if e["type"] == "window"]
    assert [w["start_frame"] for w in windows] == window_starts(1040, 128, 32).tolist()
    assert events[-1] == {"type": "end", "frames": 1040, "windows": len(windows)}
    assert main(["stream", str(sample), "--url", service, "--fps", "0", "--chunk", "104", "--window", "64",
                 "--stride", "16"]) == 0
    out = capsys.readouterr().out
    assert "window 0-63:" in out and "end: 1040 frames" in out


def test_recognize_txt_points_to_detect(service, sample, tmp_path, capsys):
    assert main(["recognize", str(sample), "--url", service]) == 1
    assert "POST /detect" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("".join(sample.read_text().splitlines(keepends=True)[:120]))
    assert main(["recognize", str(short), "--url", service, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["file"] == str(short) and len(result[0]["predictions"]) == 3


def _section_blocks(title: str, language: str) -> list[str]:
    """The ```language blocks of the docs/service.md section whose heading starts with `title`."""
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text()
    section = text.split("\n### " + title, 1)[1].split("\n### ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture()
def docs_cwd(tmp_path, shared_data) -> Path:
    """A working folder from which ../shared/data is the shared data, as from the repository root."""
    (tmp_path / "shared").symlink_to(shared_data.parent)
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def _run_doc(code: list[str], url: str, cwd: Path, input_: str | None = None) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "URL": url, "SCALE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(code, cwd=cwd, env=env, input=input_, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_service_docs_examples_run_verbatim(service, docs_cwd):
    detect, cli = _section_blocks("POST /detect", "bash")
    out = _run_doc(["bash", "-euo", "pipefail", "-c", detect], service, docs_cwd)
    assert out.count('"segments"') == 2 and '"frames":1040' in out and '"frames":300' in out
    out = _run_doc(["bash", "-euo", "pipefail", "-c", cli], service, docs_cwd)
    assert "START" in out and "IOU" in out and (docs_cwd / "pred.txt").is_file()
    (stream,) = _section_blocks("WebSocket /streams", "python")
    import sys

    out = _run_doc([sys.executable, "-"], service, docs_cwd, input_=stream)
    assert "{'length': 128, 'stride': 32}" in out and "window 0 127" in out
    assert "{'type': 'end', 'frames': 1040, 'windows': 30}" in out
    (open_set,) = _section_blocks("Open set", "bash")
    out = _run_doc(["bash", "-euo", "pipefail", "-c", open_set], service, docs_cwd)
    assert json.loads(out)["open_set"] == {"accepted": False, "threshold": -1e9, "source": "request"}
