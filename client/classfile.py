"""Parse class list files: one label per line, optional descriptions after TABs or ' | ', '#' comments.

One description makes one text (template(label) + '. ' + description, as before); two or more make a class
with several texts: the label's own prompt plus one text per description.
"""

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
        fields = line.split("\t") if "\t" in line else line.split(" | ")
        label, descriptions = fields[0].strip(), [f.strip() for f in fields[1:] if f.strip()]
        if not label:
            raise ClassFileError(f"{source}:{number}: empty label before the description {fields[1].strip()!r}")
        if len(descriptions) > 1:
            specs.append(ClassSpec(label, descriptions=tuple(descriptions)))
        else:
            specs.append(ClassSpec(label, descriptions[0] if descriptions else None))
    if not specs:
        raise ClassFileError(f"{source}: no class labels found (only blank lines or comments)")
    return specs
