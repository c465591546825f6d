"""Figures the tests measure (soak runs, the server fuzz, the bad-input scan).

They are not test output: a passing run stays quiet. Each figure goes to
``build/test-figures.txt`` (rewritten by every run that records one), and the run's figures
are shown at its end with ``-v`` or ``--soak``.
"""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "build" / "test-figures.txt"


class Figures:
    def __init__(self, path: Path = PATH) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        """Record ``text`` (one or more lines)."""
        self.lines.extend(text.strip("\n").splitlines())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
