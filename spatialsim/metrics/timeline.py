"""What happened when: kernel state spans, FIFO levels and memory transfers, for timelines.

Recorded only when asked for (``RunConfig.timeline``), so plain runs stay fast. Spans of
one kernel in the same state that touch are merged as they are recorded. Only launches the
engine simulates are recorded; a step's replayed layers (identical copies) are kept as one
entry per step, with the number of copies and their time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Launch:
    phase: str
    step: int  # 0 for prefill; the generated token's index in decode
    start: float
    end: float
    copies: int = 0  # identical launches replayed after this one
    copies_end: float = 0.0


@dataclass
class Timeline:
    """Spans (kernel, state, start, end), FIFO level changes, memory transfers, launches."""

    spans: list[list[object]] = field(default_factory=list)
    fifo_levels: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    transfers: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    launches: list[Launch] = field(default_factory=list)
    kernel_order: list[str] = field(default_factory=list)
    _last: dict[str, list[object]] = field(default_factory=dict)

    def span(self, kernel: str, state: str, start: float, end: float) -> None:
        if end <= start:
            return
        last = self._last.get(kernel)
        if last is not None and last[1] == state and last[3] == start:
            last[3] = end
            return
        rec: list[object] = [kernel, state, start, end]
        self.spans.append(rec)
        self._last[kernel] = rec

    def level(self, fifo: str, t: float, level: int) -> None:
        self.fifo_levels.setdefault(fifo, []).append((t, level))

    def transfer(self, channel: str, start: float, end: float, nbytes: float) -> None:
        self.transfers.setdefault(channel, []).append((start, end, nbytes))
