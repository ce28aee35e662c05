"""`scale classes ...` / `scale recognize ...`: argument handling and file loading (unit), then end to end."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.client import format_results, register
from cli.pose_input import collect_inputs, load_sequence
from client import ScaleClient
from client.classfile import ClassFileError, parse_class_lines
from client.models import Prediction, Recognition

from .live_service import REPO, SKELETONS, clean_env, demo_bundle_path, running_service

CLASS_FILE = """# NTU actions for the demo
reading\tlooking at a book held in both hands
brushing teeth | moving a toothbrush in front of the mouth   # inline comment
handshaking

   # indented comment
"""


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scale")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.unit
def test_class_file_format() -> None:
    specs = parse_class_lines(io.StringIO(CLASS_FILE), "actions.txt")
    assert [(s.label, s.description) for s in specs] == [
        ("reading", "looking at a book held in both hands"),
        ("brushing teeth", "moving a toothbrush in front of the mouth"),
        ("handshaking", None)]
    with pytest.raises(ClassFileError, match=r"actions.txt:2: empty label"):
        parse_class_lines(["ok\n", "\tonly a description\n"], "actions.txt")
    with pytest.raises(ClassFileError, match="no class labels"):
        parse_class_lines(["# nothing\n", "\n"], "empty.txt")


@pytest.mark.unit
def test_collect_and_load_files(tmp_path: Path) -> None:
    clip = np.random.default_rng(0).normal(size=(1, 8, 25, 3))
    np.save(tmp_path / "b.npy", clip)
    (tmp_path / "a.skeleton").write_text("0\r\n")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in collect_inputs(tmp_path)] == ["a.skeleton", "b.npy"]
    loaded = load_sequence(tmp_path / "b.npy")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, clip.astype(np.float32))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_sequence(tmp_path / "obj.npy")
    with pytest.raises(ValueError, match="notes.txt:1: expected 150 numbers"):  # .txt = PKU-MMD skeleton text
        load_sequence(tmp_path / "notes.txt")
    (tmp_path / "notes.csv").write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_sequence(tmp_path / "notes.csv")
    with pytest.raises(FileNotFoundError, match="no such file"):
        collect_inputs(tmp_path / "missing.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .skeleton, .npy, .json or .pkl files"):
        collect_inputs(tmp_path / "empty")


@pytest.mark.unit
def test_result_formats() -> None:
    rec = Recognition([Prediction("id1", "reading", 1.25, 0.75, 0.5), Prediction("id2", "a, b", 2.0, 0.25, 0.125)],
                      bundle_version="v1")
    results = [(Path("/d/x.skeleton"), rec)]
    rows = list(csv.DictReader(io.StringIO(format_results(results, "csv"))))
    assert rows[1] == {"file": "/d/x.skeleton", "rank": "2", "class_id": "id2", "label": "a, b", "energy": "2.0",
                       "score": "0.25", "uncertainty": "0.125", "bundle_version": "v1", "demo": "False",
                       "warning": ""}
    (doc,) = json.loads(format_results(results, "json"))
    assert doc["demo"] is False and doc["warning"] is None
    assert doc["bundle_version"] == "v1" and doc["predictions"][0] == {
        "class_id": "id1", "label": "reading", "energy": 1.25, "score": 0.75, "uncertainty": 0.5}
    table = format_results(results, "table").splitlines()
    assert table[0].split() == ["FILE", "RANK", "LABEL", "ENERGY", "SCORE", "UNCERTAINTY"]
    assert table[1].split() == ["x.skeleton", "1", "reading", "1.2500", "0.7500", "0.5000"]


@pytest.mark.unit
def test_demo_answers_carry_demo_and_warning_in_json_and_csv() -> None:
    rec = Recognition([Prediction("id1", "reading", 1.25, 0.75, 0.5)], bundle_version="v1", demo=True,
                      warning="DEMO bundle: NOT meaningful")
    results = [(Path("x.npy"), rec)]
    (row,) = csv.DictReader(io.StringIO(format_results(results, "csv")))
    assert row["demo"] == "True" and row["warning"] == "DEMO bundle: NOT meaningful"
    (doc,) = json.loads(format_results(results, "json"))
    assert doc["demo"] is True and doc["warning"] == "DEMO bundle: NOT meaningful"
    assert "NOT meaningful" not in format_results(results, "table")  # the table stays data; stderr warns


@pytest.mark.unit
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["classes", "add", str(tmp_path / "nope.txt"), "--url", "http://127.0.0.1:9"]) == 2
    assert "nope.txt" in capsys.readouterr().err
    assert run_cli(["recognize", str(tmp_path), "--url", "http://127.0.0.1:9"]) == 2
    assert "no .skeleton, .npy, .json or .pkl files" in capsys.readouterr().err


@pytest.fixture()
def live(redis_server, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path):
    with running_service(demo_bundle_path(tmp_path_factory), redis_server.url, tmp_path) as url:
        yield url


@pytest.mark.integration
def test_cli_end_to_end(live: str, tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from model.skeleton_io import read_skeleton

    monkeypatch.setenv("SCALE_URL", live)  # no --url below: the environment variable is used
    classes_txt = tmp_path / "actions.txt"
    classes_txt.write_text(CLASS_FILE)
    assert run_cli(["classes", "add", str(classes_txt)]) == 0
    assert "brushing teeth" in capsys.readouterr().out
    assert run_cli(["classes", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {c["label"]: c["description"] for c in listed} == {
        "reading": "looking at a book held in both hands",
        "brushing teeth": "moving a toothbrush in front of the mouth", "handshaking": None}

    raw = shared_data.joinpath(*SKELETONS)
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("S001C001P001R001A011.skeleton", "S002C001P003R001A003.skeleton"):
        (folder / name).symlink_to(raw / name)  # linked, never copied
    arrays = {p.name: read_skeleton(p).joints for p in sorted(folder.iterdir())}
    np.save(folder / "Z_clip.npy", arrays["S001C001P001R001A011.skeleton"][:, :40])
    arrays["Z_clip.npy"] = arrays["S001C001P001R001A011.skeleton"][:, :40]

    assert run_cli(["recognize", str(folder / "S002C001P003R001A003.skeleton"), "--top-k", "2"]) == 0
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert len(table) == 3 and table[1].split()[:2] == ["S002C001P003R001A003.skeleton", "1"]
    # the live service runs the demo: its warning once, as one line (it used to come twice)
    assert [ln for ln in captured.err.splitlines() if "NOT meaningful" in ln] == \
        [ln for ln in captured.err.splitlines() if ln.lower().startswith("warning")]
    assert len([ln for ln in captured.err.splitlines() if "NOT meaningful" in ln]) == 1

    out_json = tmp_path / "res.json"
    assert run_cli(["recognize", str(folder), "--top-k", "3", "--batch-size", "2", "--out", str(out_json)]) == 0
    docs = json.loads(out_json.read_text())
    assert [Path(d["file"]).name for d in docs] == sorted(arrays)
    assert all(d["demo"] is True and "NOT meaningful" in d["warning"] for d in docs)
    with ScaleClient(live) as client:
        for doc in docs:
            direct = client.recognize(arrays[Path(doc["file"]).name], top_k=3)
            assert [p["class_id"] for p in doc["predictions"]] == [p.class_id for p in direct.predictions]
            np.testing.assert_allclose([p["energy"] for p in doc["predictions"]],
                                       [p.energy for p in direct.predictions], rtol=1e-5)
    out_csv = tmp_path / "res.csv"
    assert run_cli(["recognize", str(folder), "--top-k", "2", "--out", str(out_csv)]) == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 3 * 2 and {r["rank"] for r in rows} == {"1", "2"}
    assert {r["demo"] for r in rows} == {"True"} and all("NOT meaningful" in r["warning"] for r in rows)

    np.save(tmp_path / "bad.npy", np.zeros((10, 25, 2), np.float32))
    capsys.readouterr()
    assert run_cli(["recognize", str(tmp_path / "bad.npy")]) == 1
    assert "422" in capsys.readouterr().err

    first = listed[0]["id"]
    assert run_cli(["classes", "rm", first]) == 0
    assert run_cli(["classes", "rm", first]) == 1
    assert f"404 Not found: no class with id '{first}'" in capsys.readouterr().err

    # the installed `scale` entry point (cli.main) dispatches to the same subcommands
    scale = [sys.executable, "-m", "cli.main"]
    add = subprocess.run([*scale, "classes", "add", "-", "--json"], input="waving\n", cwd=REPO,
                         env=clean_env(SCALE_URL=live), capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    (added,) = json.loads(add.stdout)
    listed = subprocess.run([*scale, "classes", "list", "--url", live], cwd=REPO, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and added["id"] in listed.stdout and "waving" in listed.stdout
