"""Pickle-free binary encoding of cached class-side tensors, with strict validation on decode.

Layout: MAGIC (4 bytes) | format version (u8) | header length (u32 LE) | header JSON (utf-8) | payload |
sha256 of everything before it (32 bytes). The header lists each tensor's name, shape, dtype ("<f4" only),
offset and byte count; the trailing digest makes a truncated, bit-flipped or foreign value a cache miss.
"""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np

MAGIC = b"SCLC"
FORMAT_VERSION = 1
DTYPE = "<f4"
MAX_HEADER_BYTES = 64 * 1024
MAX_TENSORS = 64
MAX_NDIM = 6
DIGEST_BYTES = 32
_PREFIX = struct.Struct("<4sBI")


class ConditioningDecodeError(ValueError):
    """The bytes are not a valid encoded conditioning (corrupted, truncated or foreign)."""


def encode_tensors(tensors: dict[str, np.ndarray]) -> bytes:
    """Encode named real-valued finite arrays as little-endian float32 with a JSON header."""
    if not isinstance(tensors, dict) or not tensors:
        raise ValueError("tensors must be a non-empty dict of name -> array")
    if len(tensors) > MAX_TENSORS:
        raise ValueError(f"at most {MAX_TENSORS} tensors per entry, got {len(tensors)}")
    entries, chunks, offset = [], [], 0
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor names must be non-empty str, got {name!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"tensor {name!r} has non-numeric dtype {arr.dtype}")
        if arr.ndim > MAX_NDIM:
            raise ValueError(f"tensor {name!r} has {arr.ndim} dims (max {MAX_NDIM})")
        with np.errstate(over="ignore"):  # overflow to inf is reported just below, with the tensor's name
            data = np.asarray(arr, dtype=DTYPE, order="C")  # ascontiguousarray would turn 0-d into 1-d
        if not np.isfinite(data).all():
            raise ValueError(f"tensor {name!r} contains NaN or Inf (or overflows float32)")
        raw = data.tobytes()
        entries.append({"name": name, "shape": list(data.shape), "dtype": DTYPE,
                        "offset": offset, "nbytes": len(raw)})
        chunks.append(raw)
        offset += len(raw)
    payload = b"".join(chunks)
    header = json.dumps({"tensors": entries}, separators=(",", ":")).encode("utf-8")
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


def _fail(what: str) -> None:
    raise ConditioningDecodeError(f"invalid conditioning entry: {what}")


def _check_entry(entry: object, expected_offset: int, names: set[str]) -> tuple[str, tuple[int, ...], int]:
    if not isinstance(entry, dict) or set(entry) != {"name", "shape", "dtype", "offset", "nbytes"}:
        _fail("tensor entry has wrong keys")
    name, shape = entry["name"], entry["shape"]
    if not isinstance(name, str) or not name or name in names:
        _fail(f"bad or duplicate tensor name {name!r}")
    if entry["dtype"] != DTYPE:
        _fail(f"tensor {name!r} dtype {entry['dtype']!r} is not {DTYPE!r}")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or \
            not all(type(d) is int and d >= 0 for d in shape):
        _fail(f"tensor {name!r} has a bad shape {shape!r}")
    nbytes = 4 * int(np.prod(shape, dtype=np.int64))
    if entry["offset"] != expected_offset or entry["nbytes"] != nbytes:
        _fail(f"tensor {name!r} offset/size do not match its shape")
    return name, tuple(shape), nbytes


def decode_tensors(blob: bytes) -> dict[str, np.ndarray]:
    """Decode encode_tensors output; ConditioningDecodeError on any inconsistency."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        _fail(f"expected bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < _PREFIX.size + DIGEST_BYTES:
        _fail("shorter than the fixed prefix and digest")
    blob, digest = blob[:-DIGEST_BYTES], blob[-DIGEST_BYTES:]
    if hashlib.sha256(blob).digest() != digest:
        _fail("checksum mismatch")
    magic, version, header_len = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        _fail("bad magic")
    if version != FORMAT_VERSION:
        _fail(f"unsupported format version {version}")
    if header_len > MAX_HEADER_BYTES or _PREFIX.size + header_len > len(blob):
        _fail("header length out of range")
    try:
        header = json.loads(blob[_PREFIX.size:_PREFIX.size + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        _fail("header is not valid JSON")
    if not isinstance(header, dict) or set(header) != {"tensors"} or \
            not isinstance(header["tensors"], list) or not 0 < len(header["tensors"]) <= MAX_TENSORS:
        _fail("header has wrong structure")
    payload = blob[_PREFIX.size + header_len:]
    out: dict[str, np.ndarray] = {}
    offset = 0
    for entry in header["tensors"]:
        name, shape, nbytes = _check_entry(entry, offset, set(out))
        if offset + nbytes > len(payload):
            _fail(f"tensor {name!r} runs past the end of the payload")
        arr = np.frombuffer(payload[offset:offset + nbytes], dtype=DTYPE).reshape(shape)
        if not np.isfinite(arr).all():
            _fail(f"tensor {name!r} contains NaN or Inf")
        out[name] = arr.astype(np.float32)  # native-endian, writable copy
        offset += nbytes
    if offset != len(payload):
        _fail("payload has trailing bytes")
    return out
