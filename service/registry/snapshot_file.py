"""Local snapshot file: lets a replica restarted during a Redis outage keep serving the last class set."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from service.registry.base import ClassRecord, RegistrySnapshot, sorted_classes

log = logging.getLogger(__name__)
FILE_FORMAT = 1


def write_snapshot(path: Path, snapshot: RegistrySnapshot, epoch: str | None) -> None:
    """Atomically write the snapshot as JSON (temp file + rename); failures are logged, not raised."""
    body = {"format": FILE_FORMAT, "version": snapshot.version, "epoch": epoch,
            "classes": [json.loads(r.to_json()) for r in snapshot.classes]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write registry snapshot file %s: %s", path, exc)


def read_snapshot(path: Path) -> tuple[RegistrySnapshot, str | None] | None:
    """Load a snapshot file; None (logged) when it is missing or invalid."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(body, dict) or body.get("format") != FILE_FORMAT:
            raise ValueError("unknown snapshot file format")
        version, epoch = body["version"], body["epoch"]
        if type(version) is not int or version < 0 or not (epoch is None or isinstance(epoch, str)):
            raise ValueError("bad version/epoch")
        records = [ClassRecord.from_dict(item) for item in body["classes"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring registry snapshot file %s: %s", path, exc)
        return None
    return RegistrySnapshot(version, sorted_classes(records), stale=True), epoch
