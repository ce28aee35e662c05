"""`scale pose` (a video or camera -> a pose file) and `scale watch` (a video or camera -> /streams, live)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.client import _connection_options, _run
from cli.detect import _describe, _detect_options, _options
from pose.mediapipe_pose import MODEL_COMPLEXITY

VIDEO_LAYOUTS = ("mediapipe33", "coco17-3d", "openpose25-3d", "coco17", "openpose25")


def _video_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="video file, RTSP/HTTP URL, or a camera index (0, 1, ...)")
    parser.add_argument("--layout", default="mediapipe33", choices=VIDEO_LAYOUTS,
                        help="layout to write (default mediapipe33: MediaPipe, metres; 3D layouts take x, y "
                             "from the image landmarks, z from the world landmarks)")
    parser.add_argument("--flip", action="store_true",
                        help="flip frames left-right before the estimator: for mirror views (selfie cameras, "
                             "NTU RGB+D videos), so that left and right are the person's")
    parser.add_argument("--model", default="full", choices=MODEL_COMPLEXITY,
                        help="MediaPipe Pose landmark model (default full, the one the wheel ships; lite and heavy "
                             "need pose/extra-models.sh)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--python", default=None,
                        help="interpreter that has mediapipe (env SCALE_POSE_PYTHON; default: this one, "
                             "else .venv-video in the repository)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pose` and `watch` to the root `scale` parser."""
    pose = subparsers.add_parser("pose", help="run a pose estimator on a video or camera; write a pose file")
    _video_options(pose)
    pose.add_argument("-o", "--out", type=Path, default=None,
                      help="pose file: .json (layout, fps, frames; default SOURCE.pose.json) or .npy (1,T,V,C)")
    pose.set_defaults(func=_cmd_pose)

    watch = subparsers.add_parser("watch", parents=[_connection_options()],
                                  help="run a pose estimator on a video or camera and stream it to /streams")
    _video_options(watch)
    watch.add_argument("--chunk", type=int, default=8, help="frames per message")
    _detect_options(watch, layout=False)  # the video's layout is --layout above; the estimator sets units
    watch.add_argument("--json", action="store_true", help="print every event as one JSON line")
    watch.set_defaults(func=_cmd_watch)


def _request(args: argparse.Namespace) -> Any:
    from pose.mediapipe_pose import estimator_for
    from pose.pipeline import VideoRequest

    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError("--max-frames must be >= 1")
    return VideoRequest(args.source, args.layout, args.flip, estimator_for(args.model), args.max_frames, args.python)


def default_out(source: str) -> Path:
    """SOURCE.pose.json next to a video file; camera<N>.pose.json for a camera."""
    if source.isdigit():
        return Path(f"camera{source}.pose.json")
    if "://" in source:
        return Path("stream.pose.json")
    return Path(source).with_suffix(".pose.json")


def _guarded(action: Any) -> int:
    from pose.source import EstimatorUnavailable

    def wrapped() -> int:
        try:
            return action()
        except EstimatorUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return _run(wrapped)


def _cmd_pose(args: argparse.Namespace) -> int:
    from pose.pipeline import assemble, open_video
    from pose.posefile import write_pose_file

    def action() -> int:
        request = _request(args)
        out = args.out or default_out(args.source)
        header, stream = open_video(request)
        pieces = []
        try:
            for piece in stream:
                pieces.append(piece)
        except KeyboardInterrupt:  # a camera runs until stopped: keep what was captured
            print("stopped", file=sys.stderr)
        pose = assemble(header, pieces, request)
        write_pose_file(out, pose)
        found = int((pose.skeleton != 0).any(axis=(1, 2)).sum())
        print(f"wrote {out}: {len(pose.skeleton)} frames ({found} with a person) at {pose.fps:g} fps, layout "
              f"{pose.layout}, units {pose.units}", file=sys.stderr)
        return 0

    return _guarded(action)


def _cmd_watch(args: argparse.Namespace) -> int:
    from client.stream import StreamClient
    from pose.pipeline import open_video

    def show(event: dict[str, Any]) -> None:
        line = json.dumps(event) if args.json else _describe(event)
        if line:
            print(line, flush=True)

    def action() -> int:
        if args.chunk < 1:
            raise ValueError("--chunk must be >= 1")
        request = _request(args)
        options = {k: v for k, v in _options(args).items() if v is not None}
        _, pieces = open_video(request, args.chunk)
        with StreamClient(args.url, args.api_key) as stream:
            show(stream.start(**{**options, "layout": args.layout}))
            try:
                for piece in pieces:
                    stream.send(piece)
                    for event in stream.poll():
                        show(event)
            except KeyboardInterrupt:
                print("stopped", file=sys.stderr)
            for event in stream.end():
                show(event)
        return 0

    return _guarded(action)
