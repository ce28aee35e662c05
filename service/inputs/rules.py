"""Input rules shared by the parsers: JSON nesting depth, class-text characters, .npy magic."""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from service.problems import invalid

# A recognize body nests at most 6 levels ({"skeletons": [[M [T [V [C]]]]]}); a class body 3. Anything much
# deeper is refused before json.loads, whose recursion would otherwise end in a RecursionError (a 500).
MAX_JSON_DEPTH = 32
NPY_MAGIC = b"\x93NUMPY"
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Bytes that never open, close or end anything: digits, number signs, separators and whitespace. Dropping
# them first leaves a skeleton body's brackets (a few % of it) and, without backslashes, strings keep their
# bounds (with a backslash the next byte is escaped, whatever it is: such bodies keep every byte).
_INERT = b"0123456789.-+eE,: \t\r\n"
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def json_depth(body: bytes) -> int:
    """Deepest nesting of [ and { in a JSON text, ignoring brackets inside strings (vectorised, O(n))."""
    reduced = body if b"\\" in body else body.translate(None, _INERT)
    structural = np.frombuffer(_JSON_STRING.sub(b'""', reduced), dtype=np.uint8)
    if structural.size == 0:
        return 0
    step = (np.isin(structural, (ord("["), ord("{"))).astype(np.int32)
            - np.isin(structural, (ord("]"), ord("}"))).astype(np.int32))
    return int(np.cumsum(step).max(initial=0))


def check_not_empty(body: bytes) -> None:
    """Refuse an empty (or whitespace-only) body with a 422 (kind empty-body), e.g. curl -d @missing-file."""
    if not body.strip():
        raise invalid("the body is empty: send a skeleton (JSON, .npy or, for /detect, PKU-MMD text)",
                      loc=["body"], kind="empty-body")


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a JSON body nested deeper than `limit` with a 422 (kind too-deep)."""
    depth = json_depth(body)
    if depth > limit:
        raise invalid(f"JSON body is nested {depth} levels deep; at most {limit} are accepted",
                      loc=["body"], kind="too-deep")


def check_text_chars(value: str, where: str, loc: list[str | int]) -> None:
    """Refuse class text that is not valid Unicode text, holds control characters, or shows nothing."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid(f"{where} contains a lone surrogate at position {exc.start} (not valid Unicode text)",
                      loc=loc, kind="bad-text") from exc
    for i, char in enumerate(value):
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            raise invalid(f"{where} contains the control character U+{ord(char):04X} at position {i}",
                          loc=loc, kind="bad-text")
    if value.strip() and not any(not char.isspace() and unicodedata.category(char) not in ("Cf", "Zs", "Zl", "Zp", "Mn")
               for char in value):
        raise invalid(f"{where} has no visible character (only spaces or invisible format characters)",
                      loc=loc, kind="empty-text")


def check_npy_magic(body: bytes) -> None:
    """Refuse a body that is not a .npy file before numpy guesses it is a pickle."""
    if not body.startswith(NPY_MAGIC):
        shown = body[:8]
        raise invalid(f"body is not a .npy file: it must start with the magic b'\\x93NUMPY' (got {shown!r}); "
                      "write it with numpy.save, or send JSON as application/json", loc=["body"], kind="bad-npy")
