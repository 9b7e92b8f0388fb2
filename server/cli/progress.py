"""A progress bar on stderr for long commands (`todo-agent import`): drawn in place on a
terminal, and only for work big enough to wait for; nothing at all when stderr is a file or
a pipe, so logs and scripts see just the command's result line."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """`bar(done, total)` redraws `label [#####.....] done/total`, at most 10 times a second."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        minimum: int = 200,
        tty: bool | None = None,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.minimum = minimum
        self.tty = self.stream.isatty() if tty is None else tty
        self._drawn_at = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or total < self.minimum:
            return
        now = time.monotonic()
        if done < total and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        filled = WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
