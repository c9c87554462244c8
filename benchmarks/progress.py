"""A one-line progress bar on stderr (a plain line per step when stderr is not a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """`show(label)` before a step, `advance(k)` after it, `note(text)` to print above the bar."""

    def __init__(self, total: int, width: int = 28) -> None:
        self.total, self.done, self.width = max(total, 1), 0, width
        self.start = time.time()
        self.tty = sys.stderr.isatty()
        self.label = ""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"done: {self.done}/{self.total} in {self._elapsed()}\n")
        sys.stderr.flush()

    def _elapsed(self) -> str:
        s = int(time.time() - self.start)
        return f"{s // 60}:{s % 60:02d}"

    def _bar(self) -> str:
        filled = self.width * self.done // self.total
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {self._elapsed()}"

    def show(self, label: str) -> None:
        self.label = label
        if self.tty:
            sys.stderr.write(f"\r\033[K{self._bar()}  {label}")
        else:
            sys.stderr.write(f"{self._bar()}  {label}\n")
        sys.stderr.flush()

    def advance(self, k: int) -> None:
        self.done = min(self.total, self.done + k)
        if self.tty:
            sys.stderr.write(f"\r\033[K{self._bar()}  {self.label}")
            sys.stderr.flush()

    def note(self, text: str) -> None:
        """Print `text` to stdout without tearing the bar."""
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        print(text, flush=True)
