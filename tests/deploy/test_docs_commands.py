"""The user-facing docs stay runnable: every `scale ...` line parses with the real CLI, every curl route exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/quickstart.md", "docs/service.md", "docs/deploy.md", "docs/registry.md", "docs/doctor.md")
pytestmark = pytest.mark.unit
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def bash_lines(doc: str) -> list[str]:
    """Lines of the doc's ```bash blocks, continuation lines joined."""
    text = (REPO / doc).read_text()
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines.extend(block.replace("\\\n", " ").splitlines())
    return lines


def inline_commands(doc: str) -> list[str]:
    """Inline code spans in the prose that show a `scale` command with options, e.g. `scale serve --demo`."""
    spans = re.findall(r"`(?:\.venv/bin/)?(scale [^`]+)`", (REPO / doc).read_text())
    return [span for span in spans if " --" in span]


def scale_commands(doc: str) -> list[list[str]]:
    """Argument lists of the `scale` invocations (after env assignments); lines with `...` placeholders skipped."""
    found = []
    for line in bash_lines(doc) + inline_commands(doc):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # an unbalanced quote belongs to a multi-line string, not to a command
        if any("..." in word for word in words):
            continue
        while words and _ASSIGNMENT.match(words[0]):
            words = words[1:]
        if words and words[0] in ("scale", ".venv/bin/scale"):
            found.append(words[1:])
        for i, word in enumerate(words):  # `... && .venv/bin/scale serve` and `docker compose run ... scale serve`
            if i and word in ("scale", ".venv/bin/scale") and i + 1 < len(words) and words[i + 1] == "serve":
                found.append(words[i + 1:])
    return found


def test_docs_show_scale_commands() -> None:
    # The check below must not pass vacuously: the docs do show these commands.
    shown = {args[0] for doc in DOCS for args in scale_commands(doc)}
    assert {"serve", "classes", "recognize", "export", "pipeline", "demo-bundle"} <= shown, shown


@pytest.mark.parametrize("doc", DOCS)
def test_every_scale_command_in_the_docs_parses(doc: str) -> None:
    from cli.main import build_parser

    parser = build_parser()
    for args in scale_commands(doc):
        try:
            parsed = parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{doc}: `scale {' '.join(args)}` is refused by the CLI")
        assert callable(getattr(parsed, "func", None)), f"{doc}: `scale {' '.join(args)}` runs nothing"


def documented_routes(doc: str) -> set[tuple[str, str]]:
    """(method, path) of every curl call to the service in the doc's bash blocks."""
    routes = set()
    for line in bash_lines(doc):
        if "curl" not in line:
            continue
        method = re.search(r"-X\s+(\w+)", line)
        url = re.search(r"(?:\$URL|localhost:\d+|127\.0\.0\.1:\d+)(/[\w/{}.-]*)", line)
        if url:
            routes.add((method.group(1) if method else "GET", url.group(1)))
    return routes


def app_routes() -> set[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every route of the real app (create_app loads nothing until started)."""
    from service.app import create_app
    from service.settings import Settings

    spec = create_app(Settings()).openapi()
    out = set()
    for path, ops in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", path) + "$")
        out.update((method.upper(), pattern) for method in ops)
    return out


def test_every_documented_curl_route_exists() -> None:
    routes = app_routes()
    documented = set().union(*(documented_routes(doc) for doc in DOCS))
    assert len(documented) >= 8, documented  # classes x4, recognize, healthz, readyz, info, metrics
    for method, path in sorted(documented):
        assert any(m == method and p.match(path) for m, p in routes), f"{method} {path} is not a route"
