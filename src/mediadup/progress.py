"""Progress bars for long stages (rich), silent when output is not a terminal or when asked."""

from __future__ import annotations

import sys
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
    """Opens one bar per stage; `enabled=None` means: only on an interactive terminal."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self.enabled = self.console.is_terminal if enabled is None else enabled

    @contextmanager
    def stage(self, name: str, total: int | None = None) -> Iterator[Stage]:
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


QUIET = Reporter(enabled=False)
