#!/usr/bin/env bash
# Make the isolated MediaPipe interpreter that `scale pose` / `scale watch` use (docs/skeletons.md, "Video in"):
#   pose/install-venv.sh [DIR]      (default .venv-video in the repository; PYTHON=python3.11 to choose one)
# The project finds DIR/bin/python by itself when DIR is .venv-video; otherwise set SCALE_POSE_PYTHON to it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-$here/../.venv-video}"
"${PYTHON:-python3}" -m venv "$target"
"$target/bin/python" -m pip install -q --upgrade pip
"$target/bin/python" -m pip install -q --no-deps mediapipe==0.10.14
"$target/bin/python" -m pip install -q -r "$here/requirements-video.txt"
"$target/bin/python" -c "from mediapipe.python.solutions import pose; import cv2; print('mediapipe ready:', '$target')"
