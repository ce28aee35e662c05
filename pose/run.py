"""`python -m pose.run SOURCE`: run an estimator on a video and print JSON lines (the estimator interpreter side).

Line 1 is the header {"estimator", "joints", "fps", "width", "height", "flip"}; then one line per frame,
{"image": [[u, v, c], ...] | null, "world": [[x, y, z, c], ...] | null}. `pose.stream` reads it, so the
estimator can live in its own virtualenv (SCALE_POSE_PYTHON) while the project runs in another.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from pose.estimator import FramePose
from pose.mediapipe_pose import ESTIMATORS
from pose.video import VideoFrames


def _rows(array: Any) -> list[list[float]] | None:
    return None if array is None else [[round(float(v), 6) for v in row] for row in array]


def run(source: str, estimator: str = "mediapipe", flip: bool = False,
        max_frames: int | None = None) -> Iterator[dict[str, Any]]:
    """The header, then one record per frame of `source`."""
    frames = VideoFrames(source, flip=flip, max_frames=max_frames)
    model = ESTIMATORS[estimator]()
    try:
        yield {"estimator": model.name, "joints": model.joints, "fps": frames.info.fps,
               "width": frames.info.width, "height": frames.info.height, "flip": flip}
        for rgb in frames:
            found: FramePose = model.estimate(rgb)
            yield {"image": _rows(found.image), "world": _rows(found.world)}
    finally:
        model.close()


def main(argv: list[str] | None = None) -> int:
    """Print the JSON lines of `run` to stdout."""
    parser = argparse.ArgumentParser(prog="python -m pose.run")
    parser.add_argument("source", help="video file, URL or camera index")
    parser.add_argument("--estimator", default="mediapipe", choices=sorted(ESTIMATORS))
    parser.add_argument("--flip", action="store_true", help="flip frames left-right before the estimator")
    parser.add_argument("--max-frames", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        for record in run(args.source, args.estimator, args.flip, args.max_frames):
            sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
            sys.stdout.flush()
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
