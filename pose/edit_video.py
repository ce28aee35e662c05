"""Edit a real video the way the field does (run with the MediaPipe interpreter, which has OpenCV):

    python -m pose.edit_video SRC DST [--blackout START:END] [--rows TOP:BOTTOM] [--cols LEFT:RIGHT]

`--blackout` makes frames START..END-1 black (the person is gone: camera covered, lights out); `--rows` and
`--cols` keep only those pixels of every frame (a waist-up shot: the hips and legs are outside the picture).
DST is an MJPG .avi at the source's frame rate. Test data only: the output goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pose.source import REPO_ROOT, estimator_python


def span(text: str) -> tuple[int, int]:
    """'A:B' -> (A, B)."""
    start, end = (int(part) for part in text.split(":"))
    return start, end


def edit_video(src: Path, dst: Path, options: list[str], python: str | None = None) -> Path:
    """Run this module on `src` in the estimator's interpreter (it has OpenCV); returns `dst`."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [estimator_python(python) or sys.executable, "-m", "pose.edit_video", str(src), str(dst), *options]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=600)
    return dst


def main() -> None:
    """Read SRC, apply the edits, write DST."""
    import cv2  # only the estimator's interpreter has it

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--blackout", type=span, default=None)
    parser.add_argument("--rows", type=span, default=None)
    parser.add_argument("--cols", type=span, default=None)
    args = parser.parse_args()
    source = cv2.VideoCapture(args.src)
    fps = source.get(cv2.CAP_PROP_FPS) or 30.0
    writer, index = None, 0
    while True:
        ok, frame = source.read()
        if not ok:
            break
        rows, cols = args.rows or (0, frame.shape[0]), args.cols or (0, frame.shape[1])
        frame = frame[rows[0]:rows[1], cols[0]:cols[1]].copy()
        if args.blackout and args.blackout[0] <= index < args.blackout[1]:
            frame[:] = 0
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(args.dst, cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
            if not writer.isOpened():
                raise SystemExit(f"cannot write {args.dst}")
        writer.write(frame)
        index += 1
    if writer is None:
        raise SystemExit(f"no frames in {args.src}")
    writer.release()
    print(index)


if __name__ == "__main__":
    main()
