"""Progress bars for long stages (rich), silent when output is not a terminal or when asked."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Stage:
    """One stage's bar: `advance(n)` after n items, or `set(done, total)` from a callback."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None):
        self.bar, self.task = bar, task

    def advance(self, n: int = 1) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=n)

    def set(self, done: int, total: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done, total=total)


class Reporter:
    """Opens one bar per stage; `enabled=None` means: only on an interactive terminal. Whether
    shown or not, each stage's seconds are added up in `seconds` (by name, without what follows
    it in parentheses)."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, total: int | None = None) -> Iterator[Stage]:
        key, started = name.split(" (")[0], time.perf_counter()
        try:
            with self._bar(name, total) as stage:
                yield stage
        finally:
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started

    @contextmanager
    def _bar(self, name: str, total: int | None) -> Iterator[Stage]:
        if not self.enabled:
            yield Stage()
            return
        columns = (
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as bar:
            yield Stage(bar, bar.add_task(name, total=total))
