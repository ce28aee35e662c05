"""Warnings that travel in answers (demo bundle, coordinate units): one list, and one cleanly joined text."""

from __future__ import annotations


def _sentence(note: str) -> str:
    text = note.strip().rstrip(";,").strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def notice_list(*notes: str | None) -> list[str] | None:
    """The given warnings as sentences, empty ones and repeats dropped, in order; None when there are none."""
    out: list[str] = []
    for note in notes:
        if note and note.strip() and _sentence(note) not in out:
            out.append(_sentence(note))
    return out or None


def join_notices(*notes: str | None) -> str | None:
    """The warnings as one text of whole sentences ("A. B."), for clients that read a single string."""
    listed = notice_list(*notes)
    return " ".join(listed) if listed else None


def answer_notices(*notes: str | None) -> dict[str, str | list[str] | None]:
    """The `warning` (whole sentences) and `warnings` (one per item) fields of an answer."""
    return {"warning": join_notices(*notes), "warnings": notice_list(*notes)}
