"""A small Dockerfile reader for the static deploy tests: instructions with continuations joined, per stage."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: upper-case keyword, raw argument text, 1-based line where it starts."""

    keyword: str
    args: str
    line: int

    def words(self) -> list[str]:
        """Arguments as a list: the JSON (exec) form when used, else shell-split words."""
        text = self.args.strip()
        if text.startswith("["):
            return json.loads(text)
        return shlex.split(text, posix=True)


@dataclass
class Stage:
    """Instructions from one FROM to the next."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        """Instructions of this stage with the given keyword."""
        return [i for i in self.instructions if i.keyword == keyword]


def parse_instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions; comment lines inside continuations are dropped as Docker does."""
    out: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue
        if not buffer:
            start = number
        continued = stripped.endswith("\\")
        buffer.append((stripped[:-1] if continued else stripped).strip())
        if not continued:
            joined = " ".join(part for part in buffer if part)
            keyword, _, args = joined.partition(" ")
            out.append(Instruction(keyword.upper(), args.strip(), start))
            buffer = []
    if buffer:
        raise ValueError("Dockerfile ends inside a line continuation")
    return out


def _substitute(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def parse_stages(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages (FROM images with ARG defaults substituted)."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in parse_instructions(path.read_text()):
        if ins.keyword == "ARG" and not stages:
            name, _, default = ins.args.partition("=")
            global_args[name.strip()] = default.strip()
        elif ins.keyword == "FROM":
            words = ins.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(_substitute(words[0], global_args), name))
        elif stages:
            stages[-1].instructions.append(ins)
        else:
            raise ValueError(f"{path}:{ins.line}: {ins.keyword} before the first FROM")
    return global_args, stages


def env_of(stage: Stage) -> dict[str, str]:
    """Variables set by the ENV instructions of one stage (KEY=VALUE form)."""
    env: dict[str, str] = {}
    for ins in stage.of("ENV"):
        for word in shlex.split(ins.args):
            key, sep, value = word.partition("=")
            if not sep:
                raise ValueError(f"line {ins.line}: ENV without '=' is not used in this project: {word!r}")
            env[key] = value
    return env
