"""Static checks of docker/Dockerfile.{gpu,cpu}: no docker engine here, so the files are parsed and cross-checked
against the repository (COPY sources, console script, health route, Settings fields)."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .dockerfile_parse import Stage, env_of, parse_instructions, parse_stages

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {"gpu": REPO / "docker" / "Dockerfile.gpu", "cpu": REPO / "docker" / "Dockerfile.cpu"}
pytestmark = pytest.mark.unit


@pytest.fixture(params=sorted(DOCKERFILES), ids=sorted(DOCKERFILES))
def dockerfile(request: pytest.FixtureRequest) -> tuple[str, list[Stage]]:
    return request.param, parse_stages(DOCKERFILES[request.param])[1]


def settings_env_names() -> set[str]:
    from service.settings import ENV_PREFIX, Settings

    return {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {"REDIS_URL"}


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, '!' re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        candidates = [rel] + [str(Path(*Path(rel).parts[:i])) for i in range(1, len(Path(rel).parts))]
        if any(fnmatch.fnmatch(c, pat) or fnmatch.fnmatch(c, pat.removeprefix("**/")) for c in candidates):
            verdict = not negate
    return verdict


def test_parser_joins_continuations_and_drops_inner_comments() -> None:
    text = "ARG B=img:1\nFROM ${B} AS one\n# top comment\nRUN a \\\n# inner\n && b\nENV X=1 Y=\"two words\"\n"
    instructions = parse_instructions(text)
    assert [(i.keyword, i.args, i.line) for i in instructions] == [
        ("ARG", "B=img:1", 1), ("FROM", "${B} AS one", 2), ("RUN", "a && b", 4), ("ENV", 'X=1 Y="two words"', 7)]


def test_parser_substitutes_arg_defaults_in_from(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("ARG B=img:1\nFROM ${B} AS one\nENV X=1 Y=\"two words\"\nFROM one\n")
    args, stages = parse_stages(path)
    assert args == {"B": "img:1"}
    assert [(s.base, s.name) for s in stages] == [("img:1", "one"), ("one", None)]
    assert env_of(stages[0]) == {"X": "1", "Y": "two words"}


def test_dockerignore_rule_is_last_match_wins() -> None:
    assert ignored("tests/x.py", ["tests"]) and not ignored("model/x.py", ["tests"])
    assert not ignored("docker/.env.example", [".env.*", "!docker/.env.example"])
    assert ignored("a/b/__pycache__/c.pyc", ["**/__pycache__"])


def test_base_images() -> None:
    gpu = parse_stages(DOCKERFILES["gpu"])[1]
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.04", gpu[0].base), gpu[0].base
    assert "python3.11" in " ".join(i.args for i in gpu[0].of("RUN"))
    cpu = parse_stages(DOCKERFILES["cpu"])[1]
    assert {s.base for s in cpu} == {"python:3.11-slim"}


def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile: tuple[str, list[Stage]]) -> None:
    patterns = dockerignore_patterns()
    copies = [i for stage in dockerfile[1] for i in stage.of("COPY")]
    local = [i for i in copies if not i.args.startswith("--from")]
    assert len(local) >= 5
    for ins in local:
        for source in ins.words()[:-1]:
            assert (REPO / source).exists(), f"{dockerfile[0]} line {ins.line}: COPY source {source} is missing"
            assert not ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
    internal = [i.args.split()[0].removeprefix("--from=") for i in copies if i.args.startswith("--from")]
    names = {s.name for s in dockerfile[1]}
    assert internal and set(internal) <= names


def test_packages_from_pyproject_are_all_copied(dockerfile: tuple[str, list[Stage]]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {w.rstrip("/") for s in dockerfile[1] for i in s.of("COPY") for w in i.words()[:-1]}
    wanted = {p.rstrip("*") for p in includes if (REPO / p.rstrip("*")).is_dir()}
    assert wanted and wanted <= copied, f"packages not copied into the image: {sorted(wanted - copied)}"
    readme = pyproject["project"].get("readme")
    assert readme is None or readme in copied  # setuptools reads it while building the wheel


def test_dependency_layer_comes_before_the_source(dockerfile: tuple[str, list[Stage]]) -> None:
    build = next(s for s in dockerfile[1] if any("pyproject.toml" in i.args for i in s.of("COPY")))
    order = [(i.keyword, i.args) for i in build.instructions]
    copy_pyproject = order.index(("COPY", "pyproject.toml ./"))
    first_source = min(n for n, (k, a) in enumerate(order) if k == "COPY" and a.startswith(("model", "service")))
    installs = [n for n, (k, a) in enumerate(order) if k == "RUN" and "pip install -r" in a]
    assert installs and copy_pyproject < installs[0] < first_source


def test_onnxruntime_cpu_is_never_installed_and_is_refused(dockerfile: tuple[str, list[Stage]]) -> None:
    runs = [i.args for s in dockerfile[1] for i in s.of("RUN")]
    for args in runs:
        for segment in re.split(r"&&|;|\|\|", args):
            if "pip install" in segment:
                assert not re.search(r"\bonnxruntime(?![-\w])", segment), segment
    assert any(re.search(r"if pip show onnxruntime\b[^;]*; then [^;]*; exit 1; fi", a) for a in runs)
    if dockerfile[0] == "gpu":  # the wheel must carry the CUDA provider (listed even on a build host without GPU)
        assert any("'CUDAExecutionProvider' in ort.get_available_providers()" in a for a in runs)
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in deps}
    assert "onnxruntime-gpu" in names and "onnxruntime" not in names


def test_cpu_image_takes_torch_and_torchvision_from_the_cpu_index() -> None:
    runs = [i.args for s in parse_stages(DOCKERFILES["cpu"])[1] for i in s.of("RUN")]
    cpu_install = [a for a in runs if "download.pytorch.org/whl/cpu" in a]
    assert cpu_install and re.search(r"--index-url https://download\.pytorch\.org/whl/cpu torch torchvision",
                                     cpu_install[0])
    first_pypi = next(n for n, a in enumerate(runs) if "pip install -r" in a)
    assert runs.index(cpu_install[0]) < first_pypi  # else PyPI's CUDA torch lands first


def test_runtime_stage_contract(dockerfile: tuple[str, list[Stage]]) -> None:
    from service.settings import Settings

    runtime = dockerfile[1][-1]
    users = runtime.of("USER")
    assert users and users[-1].args not in ("root", "0")
    assert re.search(rf"useradd .*\b{users[-1].args}\b", " ".join(i.args for i in runtime.of("RUN")))
    expose = [w for i in runtime.of("EXPOSE") for w in i.words()]
    env = env_of(runtime)
    assert expose == [str(Settings.model_fields["port"].default)] == [env["SCALE_PORT"]]
    assert runtime.of("CMD")[-1].words() == ["scale", "serve", "--host", "0.0.0.0"]
    assert env["SCALE_BUNDLE_PATH"] == "/models/bundle"
    assert env["SCALE_CLIP_WEIGHTS"].startswith("/models/clip/")
    unknown = {k for k in env if k.startswith("SCALE_")} - settings_env_names()
    assert not unknown, f"ENV names that no Settings field reads: {sorted(unknown)}"
    assert env["SCALE_DEVICE"] == ("cpu" if dockerfile[0] == "cpu" else "auto")


def test_healthcheck_probes_a_route_of_the_app(dockerfile: tuple[str, list[Stage]]) -> None:
    runtime = dockerfile[1][-1]
    (check,) = runtime.of("HEALTHCHECK")
    options, _, command = check.args.partition("CMD")
    words = parse_instructions("X " + command)[0].words()
    assert words[:2] == ["python", "/opt/scale/healthcheck.py"]
    copied = {i.words()[-1]: i.words()[0] for i in runtime.of("COPY")}
    assert (REPO / copied[words[1]]).is_file()
    assert words[2] in app_routes()
    assert "--start-period=" in options  # the first start loads the bundle and CLIP before /healthz answers


def test_console_script_and_serve_subcommand_exist() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["scale"] == "cli.main:main"
    source = (REPO / "cli" / "main.py").read_text()
    assert '"cli.serve"' in source


def app_routes() -> set[str]:
    """Paths the FastAPI app serves, from its OpenAPI document (create_app does not load the bundle)."""
    from service.app import create_app
    from service.settings import Settings

    return set(create_app(Settings()).openapi()["paths"])


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200 if self.path == "/healthz" else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_healthcheck_script_exit_codes_follow_the_http_status() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script = str(REPO / "docker" / "healthcheck.py")
    env = {**os.environ, "SCALE_PORT": str(server.server_address[1])}
    try:
        ok = subprocess.run([sys.executable, script, "/healthz"], env=env, capture_output=True, timeout=30)
        bad = subprocess.run([sys.executable, script, "/broken"], env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run([sys.executable, script, "/healthz"], env=env, capture_output=True, timeout=30)
    assert ok.returncode == 0
    assert bad.returncode == 1 and b"/broken" in bad.stderr
    assert down.returncode == 1 and b"healthcheck" in down.stderr
