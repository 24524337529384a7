"""Monitors: a time-weighted level (FIFO occupancy) and the stall accumulator of a kernel.

Levels and tallies are kept apart (STYLE.md): a level monitor integrates a value over time,
a kernel accumulator adds up how long the kernel spent in each state.
"""

from __future__ import annotations

from spatialsim.constants import BLOCKED, BUSY, HBM_WAIT, STARVED, STATES

__all__ = ["BLOCKED", "BUSY", "HBM_WAIT", "STARVED", "STATES", "LevelMonitor", "new_accumulator"]


class LevelMonitor:
    """Time-weighted level: the area under the level curve and the maximum seen."""

    __slots__ = ("area", "last_t", "level", "max_level", "start_t")

    def __init__(self, start_t: float = 0.0, level: int = 0) -> None:
        self.area = 0.0
        self.start_t = start_t
        self.last_t = start_t
        self.level = level
        self.max_level = level

    def update(self, now: float, level: int) -> None:
        self.area += self.level * (now - self.last_t)
        self.last_t = now
        self.level = level
        if level > self.max_level:
            self.max_level = level

    def close(self, now: float) -> None:
        """Integrate up to ``now`` (end of the observation window)."""
        self.update(now, self.level)


def new_accumulator() -> list[float]:
    """Cycles a kernel spent busy, starved, blocked and waiting on memory (in that order)."""
    return [0.0, 0.0, 0.0, 0.0]
