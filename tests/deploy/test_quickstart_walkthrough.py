"""docs/quickstart.md section 5 runs verbatim in a fresh clone against the demo service and leaves no files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.live_service import REPO, SKELETONS, clean_env, demo_bundle_path, running_service

DOC = REPO / "docs" / "quickstart.md"


def section_blocks(language: str) -> list[str]:
    """The ```language blocks of the quickstart's "5. Use it" section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 5. Use it"):]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.mark.unit
def test_walkthrough_has_no_placeholders_and_registers_each_label_once() -> None:
    script = "\n".join(section_blocks("bash"))
    commands = [line.split("  #")[0] for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [c for c in commands if "..." in c or "/path/to" in c], "placeholders in runnable commands"
    assert "../shared" not in DOC.read_text() and re.search(r"^scale ", script, re.M) is None
    texts: dict[str, set[str]] = {}  # label -> the texts registered under it
    for label, description, prompt in re.findall(
            r'\{"label": "([^"]+)"(?:, "description": "([^"]+)")?(?:, "prompt": "([^"]+)")?\}', script):
        texts.setdefault(label, set()).add(prompt or description)
    class_file = script.split("<<'EOF'\n")[1].split("\nEOF")[0]
    for line in class_file.splitlines():
        if line and not line.startswith("#"):
            label, *description = re.split(r" \| |\t", line, maxsplit=1)
            texts.setdefault(label.strip(), set()).add(description[0].strip() if description else None)
    assert len(texts) >= 5 and "writing" in texts
    ambiguous = {label: t for label, t in texts.items() if len(t) > 1}
    assert not ambiguous, f"labels registered with different texts, so `--classes LABEL` is ambiguous: {ambiguous}"


@pytest.mark.integration
def test_quickstart_commands_run_verbatim_from_a_fresh_clone(tmp_path: Path, shared_data: Path, redis_server,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    (clone / ".venv").symlink_to(Path(sys.prefix))  # the installed environment stands in for section 1
    bundle = demo_bundle_path(tmp_path_factory)
    with running_service(bundle, redis_server.url, tmp_path) as url:
        env = clean_env(SCALE_URL=url, NTU_SKELETONS=str(shared_data.joinpath(*SKELETONS)),
                        HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path))
        env["PYTHONPATH"] = str(clone)  # the clone's code, not this checkout's
        script = "set -e\n" + "\n".join(section_blocks("bash"))
        shell = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True,
                               timeout=600)
        assert shell.returncode == 0, shell.stderr[-3000:]
        python = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", "\n".join(section_blocks("python"))],
                                cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert python.returncode == 0, python.stderr[-3000:]
    out = shell.stdout
    assert '{"status":"ok"}' in out and '"id":"603a88af5a8510fe"' in out  # healthz; the documented "wave" id
    assert "writing" in out and "brushing teeth" in out  # classes add / list tables
    # the demo warning: one line per `scale recognize` command (it used to come twice per command)
    recognize_runs = len(re.findall(r"^\S*scale recognize ", script, re.M))
    warned = [ln for ln in shell.stderr.splitlines() if "NOT meaningful" in ln]
    assert recognize_runs >= 2 and len(warned) == recognize_runs and all(ln.startswith("warning: ") for ln in warned)
    assert "404" in python.stdout  # NotFoundError printed by the client example
    left = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=clone, capture_output=True, text=True,
                          check=True).stdout.split("\n")
    stand_in = {"!! .venv", "?? .venv"}  # our .venv symlink (.gitignore's `.venv/` matches only a directory)
    assert [line for line in left if line and line not in stand_in] == [], "the walkthrough left files behind"
