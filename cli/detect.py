"""`scale detect`, `scale stream` and `scale detect-eval`: untrimmed sequences, live replay, PKU-MMD mAP."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.client import Warner, _connection_options, _run, _table, emit
from cli.pose_input import layout_arguments, layout_fields, read_single


def _detect_options(parser: argparse.ArgumentParser, layout: bool = True) -> None:
    """Window, class and open-set options; with `layout`, also the input options (layout, units, ...)."""
    parser.add_argument("--window", type=int, default=None, help="window length in frames (service default 128)")
    parser.add_argument("--stride", type=int, default=None, help="frames between windows (service default 32)")
    parser.add_argument("--classes", default=None, help="comma-separated class ids or labels (default: all)")
    parser.add_argument("--threshold", type=float, default=None, help="open-set energy threshold override")
    parser.add_argument("--smooth", type=int, default=None, help="moving average over this many windows")
    if layout:
        layout_arguments(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `detect`, `stream` and `detect-eval` to the root `scale` parser."""
    conn = _connection_options()
    det = subparsers.add_parser("detect", parents=[conn], help="find actions in a long sequence (a skeleton or pose "
                                "file, or an OpenPose --write_json folder)")
    det.add_argument("path", type=Path, help="PKU-MMD skeleton .txt, .npy (M,T,V,C) of --layout, NTU .skeleton, "
                     ".json pose file, Kinetics-skeleton .json, pyskl .pkl with one sample, or an OpenPose folder")
    _detect_options(det)
    det.add_argument("--format", choices=("table", "json", "pkummd"), default="table",
                     help="pkummd: label,start,end,confidence lines for `scale detect-eval`")
    det.add_argument("--pkummd-labels", type=Path, default=None,
                     help="file with one class label per line; line i is PKU-MMD label i (pkummd format)")
    det.add_argument("--out", type=Path, default=None, help="write the result here instead of stdout")
    det.set_defaults(func=_cmd_detect)

    st = subparsers.add_parser("stream", parents=[conn], help="replay a file over WebSocket /streams")
    st.add_argument("path", type=Path, help="any input `scale detect` reads")
    st.add_argument("--fps", type=float, default=30.0, help="frames per second to send (0 = as fast as possible)")
    st.add_argument("--chunk", type=int, default=8, help="frames per message")
    _detect_options(st)
    st.add_argument("--json", action="store_true", help="print every event as one JSON line")
    st.set_defaults(func=_cmd_stream)

    ev = subparsers.add_parser("detect-eval", help="PKU-MMD mAP at IoU 0.1..0.5 (official and one-to-one matched)")
    ev.add_argument("predictions", type=Path, help="a proposal file, or a folder of them named like the labels")
    ev.add_argument("labels", type=Path, help="a ground-truth label file, or a folder of them")
    ev.add_argument("--theta", type=float, nargs="+", default=None, help="IoU thresholds (default 0.1..0.5)")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_cmd_eval)


def _options(args: argparse.Namespace, implied_layout: str | None = None) -> dict[str, Any]:
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    return {"window": args.window, "stride": args.stride, "classes": classes, "threshold": args.threshold,
            "smooth": args.smooth, **layout_fields(args, implied_layout)}


def pkummd_lines(answer: dict[str, Any], label_numbers: dict[str, int]) -> str:
    """Segments as `label,start,end,confidence` (confidence = the segment's score)."""
    lines = []
    for seg in answer["segments"]:
        number = label_numbers.get(seg["label"])
        if number is None:
            raise ValueError(f"class {seg['label']!r} has no PKU-MMD number (give --pkummd-labels)")
        lines.append(f"{number},{seg['start_frame']},{seg['end_frame']},{seg['score']:.6f}")
    return "\n".join(lines)


def _label_numbers(args: argparse.Namespace, client: Any) -> dict[str, int]:
    if args.pkummd_labels:
        names = [ln.strip() for ln in args.pkummd_labels.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        names = [c.label for c in client.list_classes()]
    return {name: i for i, name in enumerate(names, start=1)}


def _cmd_detect(args: argparse.Namespace) -> int:
    from cli.client import _client

    def action() -> int:
        source = read_single(args.path)
        with _client(args) as client:
            answer = client.detect(source.array, **_options(args, source.layout))
            numbers = _label_numbers(args, client) if args.format == "pkummd" else {}
        from client.models import answer_warnings  # lazy: the package imports httpx

        Warner().answer(answer_warnings(answer), bool(answer.get("demo")))  # stderr: every format
        if args.format == "json":
            text = json.dumps(answer, indent=2)
        elif args.format == "pkummd":
            text = pkummd_lines(answer, numbers)
        else:
            rows = [[s["start_frame"], s["end_frame"], s["label"], f"{s['energy']:.4f}", f"{s['score']:.4f}"]
                    for s in answer["segments"]]
            rows += [[b["start_frame"], b["end_frame"], "(none of the registered classes)", f"{b['energy']:.4f}",
                      ""] for b in answer["background"]]
            text = _table(sorted(rows, key=lambda r: r[0]), ["START", "END", "LABEL", "ENERGY", "SCORE"])
        emit(text, args.out, f"{len(answer['segments'])} segment(s)")
        return 0

    return _run(action)


def _describe(event: dict[str, Any]) -> str | None:
    kind = event["type"]
    if kind == "segment":
        what = "background" if event["background"] else event["label"]
        return f"segment {event['start_frame']}-{event['end_frame']}: {what}"
    if kind == "window":
        gate = "" if event["open_set"]["accepted"] else " (rejected: none of the registered classes)"
        return (f"window {event['start_frame']}-{event['end_frame']}: {event['label']} "
                f"energy {event['energy'] if event['energy'] is None else round(event['energy'], 4)}{gate} "
                f"[{event['latency_ms']:.1f} ms]")
    if kind == "end":
        return f"end: {event['frames']} frames, {event['windows']} windows"
    if kind == "warning":  # about the input (joint order, units), once per kind and stream
        return f"warning: {event['detail']}"
    return None


def _cmd_stream(args: argparse.Namespace) -> int:
    from client.models import answer_warnings
    from client.stream import replay

    def action() -> int:
        if args.chunk < 1 or args.fps < 0:
            raise ValueError("--chunk must be >= 1 and --fps >= 0")
        source = read_single(args.path)

        warner = Warner()

        def show(event: dict[str, Any]) -> None:
            if event["type"] == "ready":
                warner.answer(answer_warnings(event), bool(event.get("demo")))
            line = json.dumps(event) if args.json else _describe(event)
            if line:
                print(line, flush=True)

        options = {k: v for k, v in _options(args, source.layout).items() if v is not None}
        replay(source.array, args.url, args.api_key, fps=args.fps or None, chunk=args.chunk, on_event=show, **options)
        return 0

    return _run(action)


def _pairs(predictions: Path, labels: Path) -> dict[str, tuple[Path, Path]]:
    if predictions.is_dir() != labels.is_dir():
        raise ValueError("give two files or two folders")
    if not predictions.is_dir():
        return {labels.name: (predictions, labels)}
    pairs = {p.name: (predictions / p.name, p) for p in sorted(labels.glob("*.txt"))}
    if not pairs:
        raise ValueError(f"{labels}: no .txt label files")
    return pairs


def _cmd_eval(args: argparse.Namespace) -> int:
    from model.detect_eval import DEFAULT_THETAS, detection_map
    from model.pkummd import read_labels

    def action() -> int:
        videos = {}
        for name, (pred, truth) in _pairs(args.predictions, args.labels).items():
            videos[name] = (read_labels(pred) if pred.exists() else [], read_labels(truth))
        result = detection_map(videos, args.theta or DEFAULT_THETAS)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            rows = [[t, f"{result['official'][t]:.4f}", f"{result['matched'][t]:.4f}",
                     f"{result['official_video'][t]:.4f}"] for t in result["official"]]
            print(_table(rows, ["IOU", "MAP (OFFICIAL)", "MAP (MATCHED)", "MAP PER VIDEO"]))
        return 0

    return _run(action)  # PkuMmdFormatError is a ValueError: reported with the file and line, exit 2
