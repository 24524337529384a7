"""A progress bar for long work: drawn on a terminal, silent when output is redirected."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO


def progress_bar(stream: TextIO | None = None, width: int = 30) -> Callable[[int, int, str], None]:
    """A callback ``(done, total, label)`` that redraws one line on ``stream`` (stderr)."""
    out = stream if stream is not None else sys.stderr
    active = out.isatty()

    def update(done: int, total: int, label: str) -> None:
        if not active or total <= 0:
            return
        filled = int(width * done / total)
        out.write(f"\r{label} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
        if done >= total:
            out.write("\n")
        out.flush()

    return update
