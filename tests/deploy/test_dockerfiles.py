"""Static checks of docker/Dockerfile (targets cpu, gpu, demo), cross-checked against the repository (COPY
sources, console script, health route, Settings fields, the serve extra and deploy/constraints.txt).
tests/deploy/test_compose_live.py builds and runs the images on a real engine."""

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

from .dockerfile_parse import Instruction, Stage, env_of, parse_instructions, parse_stages

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
TARGETS = ("cpu", "gpu", "demo")
pytestmark = pytest.mark.unit


def stages() -> list[Stage]:
    return parse_stages(DOCKERFILE)[1]


def stage(name: str) -> Stage:
    return next(s for s in stages() if s.name == name)


def lineage(name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain, names = [], {s.name for s in stages()}
    current = stage(name)
    while True:
        chain.append(current)
        if current.base not in names:
            return chain
        current = stage(current.base)


def target_env(name: str) -> dict[str, str]:
    """ENV seen by a target: its ancestors' ENV, overridden by nearer stages."""
    env: dict[str, str] = {}
    for st in reversed(lineage(name)):
        env.update(env_of(st))
    return env


def target_instructions(name: str, keyword: str) -> list[Instruction]:
    """Instructions of a keyword in a target and its ancestors, in build order."""
    return [i for st in reversed(lineage(name)) for i in st.of(keyword)]


def constraint_pins() -> dict[str, str]:
    """name -> version of deploy/constraints.txt (every line must be an exact == pin)."""
    pins = {}
    for line in (REPO / "deploy" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.+-]+", version), line
            pins[name.strip().lower().replace("_", "-")] = version
    return pins


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower().replace("_", "-")


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return request.param


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


def test_one_dockerfile_with_targets_from_a_slim_python_base() -> None:
    args, all_stages = parse_stages(DOCKERFILE)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    names = [s.name for s in all_stages]
    assert set(TARGETS) <= set(names) and names[-1] == "gpu"  # plain `docker build` gives the GPU image
    assert {s.base for s in all_stages} - set(names) == {args["PYTHON_IMAGE"]}  # no CUDA base image
    assert not list((REPO / "docker").glob("Dockerfile.*"))
    # a builder without BuildKit builds every stage above the target: CUDA wheels only above gpu
    order = {n: i for i, n in enumerate(names)}
    assert order["build-gpu"] > max(order["cpu"], order["demo"])


def test_runtime_stages_have_no_compiler() -> None:
    for name in TARGETS:
        runs = " ".join(i.args for i in target_instructions(name, "RUN"))
        assert not re.search(r"apt-get install|\b(gcc|g\+\+|build-essential|clang)\b", runs), name
        assert all(s.name != "build" for s in lineage(name))  # the build stage stays out of the image


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    patterns = dockerignore_patterns()
    copies = [i for st in stages() for i in st.of("COPY")]
    local = [i for i in copies if not i.args.startswith("--from")]
    assert len(local) >= 5
    for ins in local:
        for source in ins.words()[:-1]:
            assert (REPO / source).exists(), f"line {ins.line}: COPY source {source} is missing"
            assert not ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
    internal = [i.args.split()[0].removeprefix("--from=") for i in copies if i.args.startswith("--from")]
    assert internal and set(internal) <= {s.name for s in stages()}
    assert not ignored("docker/demo/bundle/encoder.onnx", patterns)  # the demo target bakes its bundle in
    assert ignored("bundles/current/encoder.onnx", patterns) and ignored(".env", patterns)


def test_packages_from_pyproject_are_all_copied() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {w.rstrip("/") for s in stages() for i in s.of("COPY") for w in i.words()[:-1]}
    wanted = {p.rstrip("*") for p in includes if (REPO / p.rstrip("*")).is_dir()}
    assert wanted and wanted <= copied, f"packages not copied into the image: {sorted(wanted - copied)}"
    readme = pyproject["project"].get("readme")
    assert readme is None or readme in copied  # setuptools reads it while building the wheel


def test_dependency_layer_is_the_serve_extra_with_the_pins_before_the_source() -> None:
    order = [(i.keyword, i.args) for i in stage("build").instructions]
    copy_pins = order.index(("COPY", "deploy/constraints.txt ./deploy/constraints.txt"))
    first_source = min(n for n, (k, a) in enumerate(order) if k == "COPY" and a.startswith(("model", "service")))
    installs = [n for n, (k, a) in enumerate(order)
                if k == "RUN" and "pip install -c deploy/constraints.txt -r" in a]
    assert installs and copy_pins < installs[0] < first_source
    assert "['optional-dependencies']['serve']" in order[installs[0]][1]
    package = [a for k, a in order if k == "RUN" and "pip install --no-deps ." in a]
    assert package and "pip show torch" in package[0]  # the serving image refuses torch


def test_serve_extra_is_torch_free_and_fully_pinned() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    serve = {requirement_name(d) for d in pyproject["project"]["optional-dependencies"]["serve"]}
    assert not serve & {"torch", "torchvision", "open-clip-torch", "onnx", "onnxscript"}
    assert {"onnxruntime-gpu", "openvino", "numpy", "fastapi", "uvicorn", "redis", "tokenizers",
            "fastapi-offline"} <= serve
    pins = constraint_pins()
    assert serve <= set(pins), f"serve packages without a pin: {sorted(serve - set(pins))}"
    assert "torch" not in pins
    assert pins["onnxruntime"] == pins["onnxruntime-gpu"]  # the cpu image's build of the same version


def test_cpu_image_has_the_cpu_onnxruntime_and_the_gpu_image_never_both() -> None:
    build = " ".join(i.args for i in stage("build").of("RUN"))
    # the serve extra's onnxruntime-gpu becomes the CPU build for the cpu stages (no CUDA provider libraries)
    assert "sed 's/^onnxruntime-gpu\\b/onnxruntime/'" in build
    assert re.search(r"if pip show onnxruntime-gpu\b[^;]*; then [^;]*; exit 1; fi", build)
    gpu_runs = " ".join(i.args for i in stage("build-gpu").of("RUN"))
    assert gpu_runs.index("pip uninstall -y onnxruntime ") < gpu_runs.index("onnxruntime-gpu[cuda,cudnn]")
    assert re.search(r"if pip show onnxruntime\b[^;]*; then [^;]*; exit 1; fi", gpu_runs)
    assert "'CUDAExecutionProvider' in ort.get_available_providers()" in gpu_runs
    assert '"onnxruntime-gpu[cuda,cudnn]==${onnxruntime_version}"' in gpu_runs and "-c deploy/constraints.txt" in gpu_runs
    assert "sed -n 's/^onnxruntime-gpu==//p' deploy/constraints.txt" in gpu_runs
    assert "cuda_libs.py check" in gpu_runs
    assert "cuda_libs.py check" in " ".join(i.args for i in stage("gpu").of("RUN"))  # after ldconfig, as served


def test_runtime_stage_contract(target: str) -> None:
    from service.settings import Settings

    users = target_instructions(target, "USER")
    assert stage(target).of("USER") and users[-1].args not in ("root", "0")
    runs = " ".join(i.args for i in target_instructions(target, "RUN"))
    assert re.search(rf"useradd .*\b{users[-1].args}\b", runs)
    expose = [w for i in target_instructions(target, "EXPOSE") for w in i.words()]
    env = target_env(target)
    assert expose == [str(Settings.model_fields["port"].default)] == [env["SCALE_PORT"]]
    assert target_instructions(target, "CMD")[-1].words() == ["scale", "serve", "--host", "0.0.0.0"]
    bundle = {"demo": "/models/demo/bundle"}.get(target, "/models/bundle")
    assert env["SCALE_BUNDLE_PATH"] == bundle
    assert "SCALE_CLIP_WEIGHTS" not in env  # served bundles carry their text graph; nothing else is mounted
    unknown = {k for k in env if k.startswith("SCALE_")} - settings_env_names()
    assert not unknown, f"ENV names that no Settings field reads: {sorted(unknown)}"
    assert env["SCALE_DEVICE"] == ("auto" if target == "gpu" else "cpu")
    venv = [i for st in lineage(target) for i in st.of("COPY") if i.words()[-1] == "/opt/venv"]
    assert venv[0].args.split()[0] == ("--from=build-gpu" if target == "gpu" else "--from=build")


def test_demo_target_is_marked_and_bakes_the_bundle_in() -> None:
    demo = stage("demo")
    assert demo.base == "cpu"
    (copy,) = demo.of("COPY")
    assert copy.words() == ["docker/demo", "/models/demo"]
    labels = " ".join(i.args for i in demo.of("LABEL"))
    assert "DEMO" in labels and "NOT meaningful" in labels


def test_healthcheck_probes_a_route_of_the_app() -> None:
    runtime = stage("runtime")
    (check,) = runtime.of("HEALTHCHECK")
    options, _, command = check.args.partition("CMD")
    words = parse_instructions("X " + command)[0].words()
    assert words[:2] == ["python", "/opt/scale/healthcheck.py"]
    copied = {i.words()[-1]: i.words()[0] for i in runtime.of("COPY")}
    assert (REPO / copied[words[1]]).is_file()
    assert words[2] in app_routes()
    assert "--start-period=" in options  # the first start loads the bundle before /healthz answers
    assert all(lineage(t)[-1].name == "runtime" for t in TARGETS)


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
