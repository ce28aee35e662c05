"""Plain data types the client sends and returns; parsed leniently so extra service fields never break it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassSpec:
    """An action class to register: a label, an optional description or explicit prompt, and optionally more
    texts: `descriptions` (each becomes template(label) + '. ' + it) and `texts` (used verbatim)."""

    label: str
    description: str | None = None
    prompt: str | None = None
    descriptions: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON object POST /classes expects for this class."""
        body: dict[str, Any] = {"label": self.label}
        if self.description:
            body["description"] = self.description
        if self.prompt:
            body["prompt"] = self.prompt
        if self.descriptions:
            body["descriptions"] = list(self.descriptions)
        if self.texts:
            body["texts"] = list(self.texts)
        return body


@dataclass(frozen=True)
class ActionClass:
    """A registered class as the service reports it; `texts` holds every text (the prompt first)."""

    id: str
    label: str
    prompt: str | None = None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    texts: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionClass:
        """Parse one entry of a /classes answer."""
        known = {"id", "label", "prompt", "description", "texts"}
        texts = data.get("texts") or ([data["prompt"]] if data.get("prompt") else [])
        return cls(id=str(data["id"]), label=str(data["label"]), prompt=data.get("prompt"),
                   description=data.get("description"),
                   extra={k: v for k, v in data.items() if k not in known}, texts=tuple(texts))


@dataclass(frozen=True)
class Prediction:
    """One ranked candidate: lower energy = more compatible; score is a softmax over the candidates."""

    class_id: str
    label: str
    energy: float
    score: float
    uncertainty: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        """Parse one ranked entry of a /recognize answer."""
        return cls(class_id=str(data["class_id"]), label=str(data["label"]), energy=float(data["energy"]),
                   score=float(data["score"]), uncertainty=float(data["uncertainty"]))


@dataclass(frozen=True)
class Recognition:
    """The ranking for one skeleton sequence, with the bundle version that produced it."""

    predictions: list[Prediction]
    bundle_version: str | None = None
    uncertainty: float | None = None  # posterior uncertainty of the sequence (service-defined summary)
    registry_version: int | None = None
    demo: bool = False  # True when the service runs its demo bundle: labels are not meaningful
    warning: str | None = None
    warnings: tuple[str, ...] = ()  # each warning on its own (older services send only `warning`)

    @property
    def top(self) -> Prediction:
        """The best-ranked candidate."""
        if not self.predictions:
            raise ValueError("the service returned no candidates (are any classes registered?)")
        return self.predictions[0]


def answer_warnings(body: dict[str, Any]) -> tuple[str, ...]:
    """The warnings of a /recognize, /detect or /streams `ready` answer, one per item."""
    listed = body.get("warnings")
    if isinstance(listed, list):
        return tuple(str(w) for w in listed if w)
    return (str(body["warning"]),) if body.get("warning") else ()


def parse_recognitions(body: dict[str, Any]) -> list[Recognition]:
    """Turn a /recognize answer (single or batch form) into one Recognition per posted sequence."""
    results = body.get("results")
    if not isinstance(results, list):
        raise ValueError(f"unexpected /recognize answer: no 'results' list in {sorted(body)}")
    batched = bool(results) and isinstance(results[0], list)
    rows = results if batched else [results]
    uncertainties = body.get("uncertainty")
    if not isinstance(uncertainties, list):
        uncertainties = [uncertainties] * len(rows)
    if len(uncertainties) != len(rows):
        raise ValueError(f"unexpected /recognize answer: {len(rows)} rankings but {len(uncertainties)} uncertainties")
    common = {"bundle_version": body.get("bundle_version"), "registry_version": body.get("registry_version"),
              "demo": bool(body.get("demo")), "warning": body.get("warning"), "warnings": answer_warnings(body)}
    return [Recognition([Prediction.from_json(p) for p in row],
                        uncertainty=None if u is None else float(u), **common)
            for row, u in zip(rows, uncertainties, strict=True)]
