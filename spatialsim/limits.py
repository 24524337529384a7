"""Ceilings on how much work one request may ask for, each tied to something real, and
checked before the work starts (docs/limits.md lists them with the file-size, platform and
design ceilings kept beside the code they guard)."""

from __future__ import annotations

import os
from typing import Any

from spatialsim.errors import UserError

MAX_SEED = 2**32 - 1  # numpy's and Optuna's seeds: a 32-bit generator state seed
MAX_SAMPLES = 100  # replay --samples: 200 exact simulations; at the default 12 the table
# interpolates within 0.3 % of exact simulation (docs/metrics.md, tests/test_serving.py)
MAX_REQUESTS = 1_000_000  # trace --requests, a trace's rows: a day at 11.6 requests/s
MAX_WORKLOADS = 32  # fifo-size workloads (distinct ones): each is simulated word by word
MAX_ARRIVAL_S = 1e9  # a trace's arrival times: 31 years after its first request


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_workers() -> int:
    """Local worker processes: one single-threaded simulation per core, so more only
    queue; at least 2, so a parallel run can be tried on any machine."""
    return max(2, usable_cores())


def check_count(value: Any, field: str, low: int, high: int, why: str = "") -> int:
    """``value`` as an int from ``low`` to ``high``, or a :class:`UserError` naming
    ``field``, the range and (``why``) what the ceiling stands for."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        reason = f" ({why})" if why else ""
        raise UserError(
            f"{field} must be an integer from {low:,} to {high:,}{reason}, got {value!r}",
            field=field,
        )
    return value


def check_progress(progress: Any) -> None:
    """A progress callback is a callable ``progress(done, total, label)`` or None."""
    if progress is not None and not callable(progress):
        raise UserError(
            f"progress must be a function progress(done, total, label) or None, got "
            f"{progress!r:.60}",
            field="progress",
        )
