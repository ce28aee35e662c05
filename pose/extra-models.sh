#!/usr/bin/env bash
# Add MediaPipe Pose's lite and heavy landmark models to a MediaPipe virtualenv (the wheel ships only "full"):
#   pose/extra-models.sh [DIR]      (default .venv-video in the repository)
# They come from the npm registry's @mediapipe/pose package of the same release (Apache-2.0); its full model must
# be byte-identical to the wheel's, or nothing is installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-$here/../.venv-video}"
package="@mediapipe/pose@0.5.1675469404"
models="$("$target/bin/python" -c 'import mediapipe, pathlib; print(pathlib.Path(mediapipe.__file__).parent / "modules/pose_landmark")')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
wheel_full="$(sha256sum "$models/pose_landmark_full.tflite" | cut -d' ' -f1)"
npm_full="$(sha256sum "$work/package/pose_landmark_full.tflite" | cut -d' ' -f1)"
if [ "$wheel_full" != "$npm_full" ]; then
  echo "error: $package's full model differs from the wheel's; not mixing releases" >&2
  exit 1
fi
cp "$work/package/pose_landmark_lite.tflite" "$work/package/pose_landmark_heavy.tflite" "$models/"
echo "lite and heavy MediaPipe Pose models installed in $models"
