"""Static checks of docker-compose.yml, docker/.env.example and docker/nginx.conf (no docker engine here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .test_dockerfiles import target_env

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit
SCALE_SERVICES = ("scale", "scale-cpu")
TARGETS = {"scale": "gpu", "scale-cpu": "cpu", "scale-demo": "demo"}
# Set by the demo service on purpose; the server-side refusal of open writes on a non-loopback bind reads it
# (a Settings field added with that change).
OPEN_WRITES = "SCALE_ALLOW_OPEN_WRITES"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / "docker" / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not KEY=VALUE: {line!r}"
            pairs[key.strip()] = value.strip()
    return pairs


def settings_env_names() -> set[str]:
    from service.settings import ENV_PREFIX, Settings

    return {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {"REDIS_URL"}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR:-default} and ${VAR:?message} substitution."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if op == ":?" and not env.get(name):
            raise KeyError(f"{name}: {arg}")
        return env.get(name) or (arg if op == ":-" else "")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def test_services_and_profiles(compose: dict[str, Any], env_example: dict[str, str]) -> None:
    services = compose["services"]
    assert {"scale", "scale-cpu", "scale-demo", "redis", "proxy"} <= set(services)
    assert "profiles" not in services["redis"]  # every profile needs it
    # plain `up` with the example .env runs the GPU service; `--profile cpu` replaces the list (CLI test below)
    assert services["scale"]["profiles"] == ["gpu"] and env_example["COMPOSE_PROFILES"] == "gpu"
    assert services["scale-cpu"]["profiles"] == ["cpu"]
    assert services["proxy"]["profiles"] == ["scale-out"]
    assert services["scale-demo"]["profiles"] == ["demo"]


def test_images_are_built_from_the_one_dockerfile(compose: dict[str, Any]) -> None:
    for name, target in TARGETS.items():
        build = compose["services"][name]["build"]
        assert build["dockerfile"] == "docker/Dockerfile" and (REPO / build["context"] / build["dockerfile"]).is_file()
        assert build["target"] == target and compose["services"][name]["image"] == f"scale-zsar:{target}"
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", build["args"]["PYTHON_IMAGE"])


def test_standin_override_changes_only_base_images(compose: dict[str, Any]) -> None:
    override = yaml.safe_load((REPO / "docker" / "standin" / "compose.override.yml").read_text())["services"]
    assert set(override) == set(TARGETS) | {"redis", "proxy"}
    assert override["redis"] == {"image": "scale-standin/redis:7-bookworm"}
    assert override["proxy"] == {"image": "scale-standin/nginx:1-bookworm"}
    for name in TARGETS:
        assert override[name] == {"build": {"network": "host",
                                            "args": {"PYTHON_IMAGE": "scale-standin/python:3.11-bookworm"}}}


def test_gpu_reservation_only_on_the_gpu_service(compose: dict[str, Any]) -> None:
    devices = compose["services"]["scale"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "deploy" not in compose["services"]["scale-cpu"]


def test_redis_is_durable_authenticated_and_healthchecked(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", redis["image"])
    command = interpolate(" ".join(redis["command"]), {"REDIS_PASSWORD": "pw"})
    # acknowledged = on disk: Redis answers a write after the append-only file was fsynced
    assert "--appendonly yes" in command and "--appendfsync always" in command
    assert command.endswith("--requirepass pw")
    with pytest.raises(KeyError, match="REDIS_PASSWORD"):  # no password, no Redis
        interpolate(" ".join(redis["command"]), {})
    (volume,) = redis["volumes"]
    name, target = volume.split(":")[:2]
    assert target == "/data" and name in compose["volumes"]
    # `redis-cli ping` exits 0 on NOAUTH too: the healthcheck needs the password and a PONG
    assert redis["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]
    assert interpolate(redis["environment"]["REDISCLI_AUTH"], {"REDIS_PASSWORD": "pw"}) == "pw"
    assert "ports" not in redis  # only the services talk to it, over the compose network


@pytest.mark.parametrize(("name", "db"), [("scale", 0), ("scale-cpu", 0), ("scale-demo", 1)])
def test_services_authenticate_and_the_demo_has_its_own_database(compose: dict[str, Any], name: str,
                                                                 db: int) -> None:
    from redis.connection import parse_url  # redis-py's own reading of the URL

    url = interpolate(compose["services"][name]["environment"]["REDIS_URL"], {"REDIS_PASSWORD": "s3cret-Pw_1"})
    parsed = parse_url(url)
    assert (parsed["password"], parsed["host"], parsed["port"], parsed["db"]) == ("s3cret-Pw_1", "redis", 6379, db)


@pytest.mark.parametrize("name", SCALE_SERVICES)
def test_scale_service_wiring(compose: dict[str, Any], name: str) -> None:
    from service.settings import Settings

    service = compose["services"][name]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["env_file"] == [{"path": ".env", "required": False}]
    env = service["environment"]
    assert interpolate(env["REDIS_URL"], {"REDIS_PASSWORD": "pw"}) == "redis://:pw@redis:6379/0"
    assert OPEN_WRITES not in env  # the real services need SCALE_API_KEY from .env
    unknown = set(env) - settings_env_names()
    assert not unknown, f"{name}: environment names no Settings field reads: {sorted(unknown)}"
    settings = {k.removeprefix("SCALE_").lower(): v for k, v in env.items() if k.startswith("SCALE_")}
    with pytest.raises(ValueError, match="SCALE_ALLOW_OPEN_WRITES"):  # 0.0.0.0 without the .env key: refused
        Settings(**settings)
    Settings(**settings, api_key="a-key-from-dot-env")
    (port,) = service["ports"]
    host, container = port.rsplit(":", 1)
    assert int(container) == int(env["SCALE_PORT"]) == Settings.model_fields["port"].default
    assert interpolate(host, {}) == "127.0.0.1:8000"  # loopback unless HOST_BIND says otherwise
    assert "scale-backend" in service["networks"]["default"]["aliases"]
    assert re.fullmatch(r"on-failure:\d", service["restart"])  # a missing bundle must not loop forever


@pytest.mark.parametrize("name", SCALE_SERVICES)
def test_the_bundle_mount_is_read_only_and_matches_the_image(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    (mount,) = service["volumes"]  # bundles carry their text graph: no CLIP weights mount
    assert mount["type"] == "bind" and mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False  # a missing folder fails `up`, not an empty mount
    assert mount["target"] == target_env(TARGETS[name])["SCALE_BUNDLE_PATH"] == "/models/bundle"


def test_demo_service_is_marked_mounts_nothing_and_opens_writes_explicitly(compose: dict[str, Any]) -> None:
    from service.settings import Settings

    demo = compose["services"]["scale-demo"]
    assert "volumes" not in demo and "env_file" not in demo  # nothing mounted, no .env (no key) read
    assert demo["environment"][OPEN_WRITES] == "true"
    unknown = set(demo["environment"]) - settings_env_names() - {OPEN_WRITES}
    assert not unknown and (OPEN_WRITES.removeprefix("SCALE_").lower() in Settings.model_fields
                            or OPEN_WRITES not in settings_env_names())
    (port,) = demo["ports"]
    assert port.startswith("127.0.0.1:") and port.endswith(":8000")
    assert "DEMO" in demo["labels"]["org.opencontainers.image.description"]
    assert "# DEMO ONLY" in (REPO / "docker-compose.yml").read_text()
    assert target_env("demo")["SCALE_BUNDLE_PATH"].startswith("/models/demo/")


def test_env_example_names_are_settings_or_compose_variables(compose: dict[str, Any],
                                                             env_example: dict[str, str]) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    assert used <= set(env_example), f"compose variables missing from .env.example: {used - set(env_example)}"
    service_vars = {k for k in env_example if k not in used and not k.startswith("COMPOSE_")}
    unknown = service_vars - settings_env_names()
    assert not unknown, f".env.example names that no Settings field reads: {sorted(unknown)}"
    from service.settings import load_settings

    values = {k.removeprefix("SCALE_").lower(): v for k, v in env_example.items() if k in service_vars}
    settings = load_settings(**values)  # the example as shipped must be a valid configuration
    assert settings.api_key is None and str(settings.bundle_path) == "/models/bundle"
    assert "SCALE_CLIP_WEIGHTS" not in env_example  # the recipe no longer points into an empty mount


def test_env_file_and_secrets_stay_out_of_the_build_context() -> None:
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in patterns and ".git" in patterns and ".venv" in patterns


def test_proxy_targets_the_replicas(compose: dict[str, Any], env_example: dict[str, str]) -> None:
    proxy = compose["services"]["proxy"]
    (mount,) = proxy["volumes"]
    assert mount["read_only"] is True and (REPO / mount["source"]).is_file()
    conf = (REPO / mount["source"]).read_text()
    listen = re.search(r"^\s*listen\s+(\d+);", conf, re.M).group(1)
    (port,) = proxy["ports"]
    assert port.rsplit(":", 1)[1] == listen
    backend = re.search(r"set \$\w+ http://([\w-]+):(\d+);", conf)
    assert backend.group(1) == "scale-backend"
    assert int(backend.group(2)) == int(compose["services"]["scale"]["environment"]["SCALE_PORT"])
    assert "resolver 127.0.0.11" in conf  # re-resolve so --scale changes reach nginx
    size = re.search(r"client_max_body_size (\d+)m;", conf).group(1)
    from service.settings import Settings

    assert int(size) * 1024 * 1024 >= Settings.model_fields["max_body_bytes"].default
    assert interpolate(port, env_example).startswith(f"{env_example['HOST_BIND']}:{env_example['HOST_PROXY_PORT']}")


def test_the_proxy_replays_on_another_replica_and_otherwise_answers_a_retryable_problem() -> None:
    from client.errors import ServiceUnavailableError, error_from_response  # what the client makes of it
    from service.problems import PROBLEM_BASE

    conf = (REPO / "docker" / "nginx.conf").read_text()
    retry = re.search(r"proxy_next_upstream ([^;]+);", conf).group(1).split()
    assert {"error", "timeout", "non_idempotent"} <= set(retry)  # a replica dying mid-POST is replayed elsewhere
    assert re.search(r"error_page 502 504 = @unavailable;", conf)
    fallback = conf[conf.index("location @unavailable"):]
    assert "add_header Retry-After 1 always;" in fallback and "application/problem+json" in fallback
    status, body = re.search(r"return (\d+) '([^']+)';", fallback).groups()
    problem = json.loads(body)
    assert int(status) == problem["status"] == 503 and problem["type"].startswith(PROBLEM_BASE)
    answer = httpx.Response(503, headers={"Retry-After": "1", "content-type": "application/problem+json"},
                            content=body.encode(), request=httpx.Request("POST", "http://proxy/recognize"))
    error = error_from_response(answer)
    assert isinstance(error, ServiceUnavailableError) and error.retry_after == 1.0


def compose_cli_missing() -> str | None:
    """Why the compose CLI tests cannot run; in CI (.ci/run installs the plugin first) they must."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return None
    if os.environ.get("CI"):
        pytest.fail("CI: the docker compose plugin is missing (.ci/run installs it before pytest)")
    return "docker compose CLI not installed"


@pytest.fixture()
def compose_cli(tmp_path: Path) -> Any:
    reason = compose_cli_missing()
    if reason:
        pytest.skip(reason)

    def run(*args: str, env: dict[str, str] | None = None, override: bool = False) -> subprocess.CompletedProcess:
        files = ["-f", str(REPO / "docker-compose.yml")]
        files += ["-f", str(REPO / "docker" / "standin" / "compose.override.yml")] if override else []
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "REDIS_", "HOST_"))}
        # --project-directory with no .env in it: only `env` reaches the interpolation
        return subprocess.run(["docker", "compose", "--project-directory", str(REPO), "--env-file", "/dev/null",
                               *files, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**clean, **(env or {})})

    return run


def test_compose_cli_accepts_the_file_with_and_without_the_standin_override(compose_cli: Any, tmp_path: Path) -> None:
    env = {"HOST_BUNDLE_DIR": str(tmp_path), "REDIS_PASSWORD": "pw"}
    for override in (False, True):
        done = compose_cli("--profile", "cpu", "--profile", "demo", "--profile", "scale-out", "config", "-q",
                           env=env, override=override)
        assert done.returncode == 0, done.stderr


def test_compose_cli_refuses_to_start_without_a_redis_password(compose_cli: Any) -> None:
    done = compose_cli("--profile", "demo", "config", "-q")
    assert done.returncode != 0 and "required variable REDIS_PASSWORD is missing a value" in done.stderr


@pytest.mark.parametrize(("profiles", "flags", "expected"), [
    ("gpu", [], {"redis", "scale"}),  # `docker compose up` with the example .env: the GPU service
    ("gpu", ["--profile", "cpu"], {"redis", "scale-cpu"}),  # a CPU host: the flag replaces COMPOSE_PROFILES
    ("gpu", ["--profile", "demo"], {"redis", "scale-demo"}),
    ("gpu", ["--profile", "cpu", "--profile", "scale-out"], {"redis", "scale-cpu", "proxy"}),
])
def test_the_services_each_command_starts(compose_cli: Any, profiles: str, flags: list[str],
                                          expected: set[str]) -> None:
    done = compose_cli(*flags, "config", "--services", env={"COMPOSE_PROFILES": profiles, "REDIS_PASSWORD": "pw"})
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == expected


def documented_compose_commands() -> list[list[str]]:
    """`docker compose ...` lines of the deployment docs' bash blocks (env assignments dropped)."""
    from .test_docs_commands import bash_lines

    found = []
    for doc in ("docs/deploy.md", "docs/quickstart.md"):
        for line in bash_lines(doc):
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                continue  # a line of a multi-line string, not a command
            while words and re.match(r"^[A-Z_]+=", words[0]):
                words = words[1:]
            if words[:2] == ["docker", "compose"]:
                found.append(words[2:])
    return found


def test_every_documented_compose_command_selects_existing_services(compose_cli: Any, tmp_path: Path) -> None:
    commands = documented_compose_commands()
    assert sum("up" in c for c in commands) >= 4  # not vacuous: the docs show the up commands
    for args in commands:
        global_flags = [w for i, w in enumerate(args) if w in ("--profile", "-f") or
                        (i and args[i - 1] in ("--profile", "-f"))]
        files = [global_flags[i + 1] for i, w in enumerate(global_flags) if w == "-f"]
        profiles = [w for i, w in enumerate(global_flags) if i and global_flags[i - 1] == "--profile"]
        flags = [x for p in profiles for x in ("--profile", p)]
        done = compose_cli(*flags, "config", "--services", override=bool(files),
                           env={"COMPOSE_PROFILES": "gpu", "REDIS_PASSWORD": "pw", "HOST_BUNDLE_DIR": str(tmp_path)})
        assert done.returncode == 0, (args, done.stderr)
        services = set(done.stdout.split())
        if "up" in args:
            named = [w for w in args[args.index("up") + 1:] if not w.startswith("-") and "=" not in w]
            assert set(named) <= services, (args, services)
            scaled = [w.split("=")[0] for i, w in enumerate(args) if i and args[i - 1] == "--scale"]
            assert set(scaled) <= services, (args, services)
