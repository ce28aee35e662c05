"""Warnings that travel in answers (demo bundle, coordinate units): one list, and one cleanly joined text."""

from __future__ import annotations


def _sentence(note: str) -> str:
    text = note[:1].upper() + note[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def notice_list(*notes: str | None) -> list[str] | None:
    """The given warnings as they are (trailing separators cut), empty ones and repeats dropped; None if none."""
    out: list[str] = []
    for note in notes:
        text = (note or "").strip().rstrip(";,").strip()
        if text and text not in out:
            out.append(text)
    return out or None


def join_notices(*notes: str | None) -> str | None:
    """One warning as it is; several as whole sentences ("A. B."), for clients that read a single string."""
    listed = notice_list(*notes)
    if not listed:
        return None
    return listed[0] if len(listed) == 1 else " ".join(_sentence(n) for n in listed)


def answer_notices(*notes: str | None) -> dict[str, str | list[str] | None]:
    """The `warning` (whole sentences) and `warnings` (one per item) fields of an answer."""
    return {"warning": join_notices(*notes), "warnings": notice_list(*notes)}
