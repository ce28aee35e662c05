"""Datasets as one kind of object: the built-in NTU-60/120 and your own, described by a `dataset.toml`.

A dataset gives class names (and optional descriptions), clips with their class and the part (train or
test) they belong to, and named zero-shot settings (seen / unseen / optional validation classes).
docs/data.md, "Your own dataset", describes the files.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from training.splits import ZeroShotSplit

TEST_COLUMNS = ("subject", "camera", "performer", "part")
CLIP_SUFFIXES = (".skeleton", ".npy", ".json")


class DatasetError(ValueError):
    """A dataset description, label file or class file that cannot be used (names the file and line)."""


@dataclass(frozen=True)
class Clip:
    """One labelled clip of a dataset: its file, global class id and train/test part."""

    path: Path
    label: int
    part: str  # "train" or "val" (the test part, as in the skeleton cache)


@dataclass(frozen=True)
class DatasetSpec:
    """Your own dataset: classes, clips and zero-shot settings read from a dataset.toml."""

    name: str
    file: Path
    classes: tuple[str, ...]
    descriptions: dict[int, tuple[str, ...]]
    clips: tuple[Clip, ...]
    settings: dict[str, ZeroShotSplit] = field(default_factory=dict)
    test_by: str = "subject"

    def split(self, setting: str) -> ZeroShotSplit:
        """The zero-shot setting named `setting` (KeyError listing the dataset's settings otherwise)."""
        if setting not in self.settings:
            raise KeyError(f"{self.file}: no setting {setting!r}; the dataset defines {', '.join(self.settings)}")
        return self.settings[setting]


def _fail(where: Path | str, what: str) -> DatasetError:
    return DatasetError(f"{where}: {what}")


def read_class_file(path: Path) -> tuple[tuple[str, ...], dict[int, tuple[str, ...]]]:
    """Class names in index order and their descriptions, from a TSV (name, descriptions...) or JSON file."""
    if not path.is_file():
        raise _fail(path, "class file not found")
    text = path.read_text(encoding="utf-8-sig")
    rows: list[tuple[str, list[str]]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"invalid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise _fail(path, 'expected a list of {"name": ..., "descriptions": [...]} objects')
        for i, item in enumerate(data):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise _fail(path, f"entry {i} has no name")
            desc = item.get("descriptions", item.get("description", []))
            rows.append((item["name"], [desc] if isinstance(desc, str) else list(desc)))
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                name, *desc = (part.strip() for part in line.split("\t"))
                if not name:
                    raise _fail(f"{path}:{number}", "empty class name")
                rows.append((name, [d for d in desc if d]))
    names = tuple(name.strip() for name, _ in rows)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(path, f"class names listed twice: {duplicates[:5]}")
    if len(names) < 3:
        raise _fail(path, f"a zero-shot dataset needs at least 3 classes, found {len(names)}")
    return names, {i: tuple(desc) for i, (_, desc) in enumerate(rows) if desc}


def read_label_file(path: Path, folder: Path, classes: tuple[str, ...], test_by: str,
                    test_values: set[str]) -> tuple[Clip, ...]:
    """Clips from a CSV with columns file, class and optionally subject, camera, performer, part."""
    if not path.is_file():
        raise _fail(path, "label file not found")
    index = {name: i for i, name in enumerate(classes)}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        for needed in ("file", "class", test_by):
            if needed not in columns:
                raise _fail(path, f"needs a {needed!r} column, has {columns}")
        clips = []
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if row["class"] not in index:
                raise _fail(f"{path}:{number}", f"class {row['class']!r} is not in the class file")
            clip = folder / row["file"]
            if clip.suffix not in CLIP_SUFFIXES:
                raise _fail(f"{path}:{number}", f"{row['file']}: expected a {', '.join(CLIP_SUFFIXES)} file")
            clips.append(Clip(clip, index[row["class"]], "val" if row[test_by] in test_values else "train"))
    if not clips:
        raise _fail(path, "lists no clip")
    return tuple(clips)


def drawn_unseen(dataset: str, setting: str, classes: int, count: int, seed: int) -> tuple[int, ...]:
    """`count` class ids drawn by a fixed hash of (dataset, setting, seed, class): the same on every machine."""
    if not 1 <= count <= classes - 3:
        raise ValueError(f"num_unseen must be between 1 and {classes - 3} (>= 3 classes stay seen), got {count}")
    key = lambda c: hashlib.sha256(f"scale-unseen:{dataset}:{setting}:{seed}:{c}".encode()).digest()  # noqa: E731
    return tuple(sorted(sorted(range(classes), key=key)[:count]))


def _ids(where: str, names: Any, index: dict[str, int]) -> tuple[int, ...]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{where} must be a list of class names")
    unknown = [n for n in names if n not in index]
    if unknown:
        raise DatasetError(f"{where}: {unknown[:5]} are not in the class file")
    return tuple(sorted(index[n] for n in names))


def _setting(file: Path, dataset: str, name: str, raw: dict[str, Any], classes: tuple[str, ...],
             test_by: str) -> ZeroShotSplit:
    where = f"{file}: [settings.{name}]"
    index = {n: i for i, n in enumerate(classes)}
    if ("unseen" in raw) == ("num_unseen" in raw):
        raise DatasetError(f"{where} needs either unseen = [class names] or num_unseen = N (with seed)")
    try:
        unseen = (_ids(f"{where} unseen", raw["unseen"], index) if "unseen" in raw else
                  drawn_unseen(dataset, name, len(classes), int(raw["num_unseen"]), int(raw.get("seed", 0))))
    except ValueError as exc:
        raise DatasetError(f"{where}: {exc}") from exc
    seen = tuple(c for c in range(len(classes)) if c not in unseen)
    validation = _ids(f"{where} validation", raw.get("validation", []), index)
    if set(validation) - set(seen) or (validation and len(seen) - len(validation) < 2):
        raise DatasetError(f"{where} validation classes must be seen classes, leaving at least 2 others")
    unknown = set(raw) - {"unseen", "num_unseen", "seed", "validation"}
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(unknown)}")
    return ZeroShotSplit(name=name, dataset=dataset, num_classes=len(classes), seen=seen, unseen=unseen,
                         benchmark=test_by, validation_classes=validation)


def load_dataset(path: str | Path) -> DatasetSpec:
    """Read a dataset.toml (or the folder holding one; paths in it are relative to its folder)."""
    file = Path(path)
    if file.is_dir():
        file = file / "dataset.toml"
    if not file.is_file():
        raise _fail(file, "dataset description not found")
    return _load(file.resolve(), file.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(file: Path, mtime_ns: int) -> DatasetSpec:
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(file, f"invalid TOML ({exc})") from exc
    known = {"name", "skeletons", "labels", "classes", "test_by", "test_values", "settings"}
    if set(raw) - known:
        raise _fail(file, f"unknown keys {sorted(set(raw) - known)}")
    name, test_by = str(raw.get("name", file.parent.name)), str(raw.get("test_by", "subject"))
    if name.startswith(("ntu60", "ntu120")):
        raise _fail(file, f"name {name!r} is reserved for the built-in NTU datasets")
    if test_by not in TEST_COLUMNS:
        raise _fail(file, f"test_by must be one of {', '.join(TEST_COLUMNS)}, got {test_by!r}")
    test_values = {str(v) for v in raw.get("test_values", ["test"] if test_by == "part" else [])}
    if not test_values:
        raise _fail(file, f"test_values must list the {test_by} values of the test clips")
    root = file.parent
    classes, descriptions = read_class_file(root / str(raw.get("classes", "classes.tsv")))
    clips = read_label_file(root / str(raw.get("labels", "labels.csv")), root / str(raw.get("skeletons", ".")),
                            classes, test_by, test_values)
    settings_raw = raw.get("settings", {})
    if not isinstance(settings_raw, dict) or not settings_raw:
        raise _fail(file, "define at least one [settings.NAME] table (unseen = [...] or num_unseen = N)")
    settings = {key: _setting(file, name, key, value, classes, test_by) for key, value in settings_raw.items()}
    return DatasetSpec(name=name, file=file, classes=classes, descriptions=descriptions, clips=clips,
                       settings=settings, test_by=test_by)
