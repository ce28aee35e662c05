#!/usr/bin/env bash
# Build the demo bundle (labels NOT meaningful) into docker/demo/bundle for the `demo` image target.
# Needs the training install (torch, open_clip): the serving image has neither, so the bundle is built here
# and baked in. Reuses an intact bundle built with the same seed. Usage: docker/demo/build.sh [python]
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${1:-${PYTHON:-python}}"
"$PYTHON" -c "import sys; from training.demo import build_demo_bundle; build_demo_bundle(sys.argv[1])" \
  docker/demo/bundle
echo "docker/demo/build.sh: the demo bundle (labels NOT meaningful) is in docker/demo/bundle; an intact one is" \
     "reused by the next run. Next: docker compose --profile demo build && docker compose --profile demo up -d"
