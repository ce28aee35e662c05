"""Parse class list files: one label per line, optional description after a TAB or ' | ', '#' comments."""

from __future__ import annotations

import re
from collections.abc import Iterable

from client.models import ClassSpec

_INLINE_COMMENT = re.compile(r"\s+#.*$")


class ClassFileError(ValueError):
    """A class file line that cannot be used; the message names the source and line number."""


def parse_class_lines(lines: Iterable[str], source: str = "<classes>") -> list[ClassSpec]:
    """Turn text lines into ClassSpecs; blank lines and comments (# at line start or after a space) are skipped."""
    specs: list[ClassSpec] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if line.lstrip().startswith("#"):
            continue
        line = _INLINE_COMMENT.sub("", line)
        if not line.strip():
            continue
        if "\t" in line:
            label, description = line.split("\t", 1)
        elif " | " in line:
            label, description = line.split(" | ", 1)
        else:
            label, description = line, ""
        label, description = label.strip(), description.strip()
        if not label:
            raise ClassFileError(f"{source}:{number}: empty label before the description {description!r}")
        specs.append(ClassSpec(label, description or None))
    if not specs:
        raise ClassFileError(f"{source}: no class labels found (only blank lines or comments)")
    return specs
