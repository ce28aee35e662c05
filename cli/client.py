"""`scale classes ...` and `scale recognize ...`: the command-line front of the HTTP client."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cli.pose_input import InputSequence, collect_inputs, layout_arguments, layout_fields, read_inputs
from cli.pose_input import load_sequence as load_sequence  # re-exported: it lived here before


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", default=None, help="service URL (env SCALE_URL, default http://127.0.0.1:8000)")
    parent.add_argument("--api-key", default=None, help="API key for write routes (env SCALE_API_KEY)")
    parent.add_argument("--timeout", type=float, default=120.0, help="per-request timeout in seconds")
    parent.add_argument("--retries", type=int, default=3,
                        help="repeat requests answered 429/503 after their Retry-After (default 3)")
    return parent


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `classes` and `recognize` subcommands to the root `scale` parser."""
    conn = _connection_options()
    classes = subparsers.add_parser("classes", help="manage registered action classes")
    sub = classes.add_subparsers(dest="classes_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", parents=[conn], help="register the classes listed in FILE ('-' = stdin)")
    add.add_argument("file", help="one label per line; optional description after a TAB or ' | '; # comments")
    add.add_argument("--json", action="store_true", help="print the registered classes as JSON")
    add.set_defaults(func=_cmd_add)
    lst = sub.add_parser("list", parents=[conn], help="list registered classes")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(func=_cmd_list)
    rm = sub.add_parser("rm", parents=[conn], help="delete classes by id")
    rm.add_argument("ids", nargs="+", metavar="ID")
    rm.set_defaults(func=_cmd_rm)

    rec = subparsers.add_parser("recognize", parents=[conn],
                                help="rank registered classes for skeleton or pose files (.skeleton, .npy, PKU-MMD "
                                ".txt, .json, pyskl .pkl), OpenPose --write_json folders, or folders of files")
    rec.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="files and/or folders (several allowed)")
    rec.add_argument("--top-k", type=int, default=5)
    rec.add_argument("--classes", default=None,
                     help="comma-separated class ids or labels to restrict the candidates")
    rec.add_argument("--out", type=Path, default=None, help="write results to a .json or .csv file")
    rec.add_argument("--format", choices=("table", "json", "csv"), default=None,
                     help="output format (default: from --out's suffix, else table)")
    rec.add_argument("--batch-size", type=int, default=8, help="sequences per request")
    layout_arguments(rec)
    rec.set_defaults(func=_cmd_recognize)


def _client(args: argparse.Namespace) -> Any:
    from client import ScaleClient  # lazy: `scale train` must not pay for httpx

    return ScaleClient(args.url, args.api_key, timeout=args.timeout, max_retries=max(args.retries, 0))


def emit(text: str, out: Path | None, what: str) -> None:
    """Print `text`, or write it to `out` and say so on stderr (stdout stays clean for pipes)."""
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {what} to {out}", file=sys.stderr)
    else:
        print(text)


def _run(action: Any) -> int:
    from client import ScaleAPIError, ScaleError
    from client.classfile import ClassFileError

    try:
        return action()
    except ScaleAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ScaleError, ClassFileError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def _print_classes(classes: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"id": c.id, "label": c.label, "prompt": c.prompt, "description": c.description,
                           "texts": list(c.texts)} for c in classes], indent=2))
    else:
        print(_table([[c.id, c.label, c.prompt or "", str(len(c.texts) or 1)] for c in classes],
                     ["ID", "LABEL", "PROMPT", "TEXTS"]))


def _cmd_add(args: argparse.Namespace) -> int:
    from client.classfile import parse_class_lines

    def action() -> int:
        if args.file == "-":
            specs = parse_class_lines(sys.stdin, "<stdin>")
        else:
            with open(args.file, encoding="utf-8") as handle:
                specs = parse_class_lines(handle, args.file)
        with _client(args) as client:
            _print_classes(client.add_classes(specs), args.json)
        return 0

    return _run(action)


def _cmd_list(args: argparse.Namespace) -> int:
    def action() -> int:
        with _client(args) as client:
            _print_classes(client.list_classes(), args.json)
        return 0

    return _run(action)


def _cmd_rm(args: argparse.Namespace) -> int:
    def action() -> int:
        with _client(args) as client:
            for class_id in args.ids:
                client.delete_class(class_id)
                print(f"deleted {class_id}")
        return 0

    return _run(action)


def collect_all(paths: list[Path]) -> list[Path]:
    """collect_inputs of every path, in the order given, each file once."""
    return list(dict.fromkeys(f for path in paths for f in collect_inputs(path)))


def _chunks(items: list[InputSequence], size: int) -> Iterator[list[InputSequence]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _result_rows(results: list[tuple[Path, Any]]) -> list[dict[str, Any]]:
    return [{"file": str(path), "rank": rank, "class_id": p.class_id, "label": p.label, "energy": p.energy,
             "score": p.score, "uncertainty": p.uncertainty, "bundle_version": rec.bundle_version,
             "demo": bool(rec.demo), "warning": rec.warning or ""}
            for path, rec in results for rank, p in enumerate(rec.predictions, start=1)]


DEMO_FALLBACK = "DEMO bundle: rankings are NOT meaningful."


class Warner:
    """Prints each distinct warning of the service's answers once, on stderr (stdout stays parseable)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def answer(self, warnings: tuple[str, ...] | list[str], demo: bool = False) -> None:
        """Print the answer's warnings not printed yet; a demo answer without one still gets the demo line."""
        notes = list(warnings) or ([DEMO_FALLBACK] if demo else [])
        for note in notes:
            if note not in self.seen:
                self.seen.add(note)
                print(f"warning: {note}", file=sys.stderr)


def format_results(results: list[tuple[Path, Any]], fmt: str) -> str:
    """Render (file, Recognition) pairs as a table, JSON or CSV (JSON and CSV carry `demo` and `warning`)."""
    if fmt == "json":
        return json.dumps([{"file": str(path), "bundle_version": rec.bundle_version, "demo": bool(rec.demo),
                            "warning": rec.warning, "predictions": [vars(p) for p in rec.predictions]}
                           for path, rec in results], indent=2)
    rows = _result_rows(results)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["file", "rank", "class_id", "label", "energy", "score",
                                                    "uncertainty", "bundle_version", "demo", "warning"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    return _table([[Path(r["file"]).name, r["rank"], r["label"], f"{r['energy']:.4f}", f"{r['score']:.4f}",
                    f"{r['uncertainty']:.4f}"] for r in rows],
                  ["FILE", "RANK", "LABEL", "ENERGY", "SCORE", "UNCERTAINTY"])


def _cmd_recognize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    def action() -> int:
        if args.batch_size < 1 or (args.top_k is not None and args.top_k < 1):
            raise ValueError("--batch-size and --top-k must be >= 1")
        fmt = args.format or (args.out.suffix.lstrip(".") if args.out and args.out.suffix in (".json", ".csv")
                              else "table")
        inputs = [seq for p in collect_all(args.paths) for seq in read_inputs(p)]
        candidates = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
        results: list[tuple[Path, Any]] = []
        warner = Warner()
        by_layout: dict[str | None, list[InputSequence]] = {}  # one request carries one layout
        for seq in inputs:
            by_layout.setdefault(args.layout or seq.layout, []).append(seq)
        with _client(args) as client, tqdm(total=len(inputs), unit="seq", disable=None, file=sys.stderr) as bar:
            for layout, group in by_layout.items():
                for chunk in _chunks(group, args.batch_size):
                    answers = client.recognize_batch([s.array for s in chunk], args.top_k, candidates,
                                                     **layout_fields(args, layout))
                    if len(answers) != len(chunk):
                        raise ValueError(f"the service answered {len(answers)} rankings for {len(chunk)} "
                                         "sequences")
                    results.extend((Path(s.name), a) for s, a in zip(chunk, answers, strict=True))
                    for answer in answers:
                        warner.answer(answer.warnings, answer.demo)
                    bar.update(len(chunk))
        emit(format_results(results, fmt), args.out, f"{len(results)} result(s)")
        return 0

    return _run(action)
