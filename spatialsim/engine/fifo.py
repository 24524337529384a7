"""Bounded FIFOs counted in words, with blocking put and get and direct hand-off.

A FIFO joins one producer kernel to one consumer kernel. Capacity is the design's depth in
words (one word is one feature of a pack). Transfers move any number of words: a put stores
what fits and blocks for the rest, a get takes what is there and blocks for the rest, and
while one side is blocked the other side's words stream straight through (the way an HLS
stream passes data when both ends are active). A blocked call returns a SimPy event that
fires once the whole transfer is done, so a transfer that does not block costs no event.

Occupancy is tracked as a time-weighted level (area under the level curve) and a maximum.
An inter-SLR link adds a crossing latency: words are usable that many cycles after the put.
An array kernel's output registers (one finished block) sit in front of its FIFO: they add
``staging`` words of room, and occupancy statistics count only the FIFO proper.
"""

from __future__ import annotations

from typing import Any

import simpy

from spatialsim.metrics.monitors import LevelMonitor


class Fifo:
    """A bounded single-producer single-consumer FIFO of ``capacity`` words."""

    __slots__ = (
        "_get_event",
        "_get_need",
        "_put_event",
        "_put_rem",
        "capacity",
        "depth",
        "dst",
        "env",
        "fill_time",
        "latency",
        "level",
        "link",
        "monitor",
        "name",
        "span",
        "src",
        "wait_get",
        "wait_put",
        "width_bits",
        "words_got",
        "words_put",
    )

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int,
        src: str,
        dst: str,
        width_bits: int = 0,
        latency: float = 0.0,
        staging: int = 0,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"FIFO {name}: capacity must be >= 1 word, got {capacity}")
        self.env = env
        self.name = name
        self.depth = capacity
        self.capacity = capacity + staging
        self.src = src
        self.dst = dst
        self.width_bits = width_bits
        self.latency = latency
        self.link: Any = None  # the inter-card route a link FIFO crosses (engine/links.py)
        self.level = 0
        self.monitor = LevelMonitor()
        self.fill_time = float("-inf")
        self.span = 0.0
        self.words_put = 0  # words offered and asked for since the last reset (diagnosis)
        self.words_got = 0
        self._get_need = 0
        self._get_event: simpy.Event | None = None
        self._put_rem = 0
        self._put_event: simpy.Event | None = None
        # what a kernel blocked on this FIFO is waiting for (deadlock reports), made once
        self.wait_get = (self, "get")
        self.wait_put = (self, "put")

    # -- transfers ------------------------------------------------------------------------
    def put(self, words: int, span: float = 0.0) -> simpy.Event | None:
        """Offer ``words``; None when all were accepted now, else an event for the rest.

        ``span`` is how many cycles the producer spent producing them: words that trickle
        out of a pipelined loop (span > 0) can be consumed while they arrive; a finished
        output block (span 0) arrives all at once.
        """
        if self._put_rem:
            raise RuntimeError(f"FIFO {self.name}: a second put while one is blocked")
        rem = words
        now = self.env._now
        self.span = span
        self.words_put += words
        need = self._get_need
        if need:
            x = rem if rem < need else need
            need -= x
            rem -= x
            self._get_need = need
            if not need:
                ev = self._get_event
                self._get_event = None
                assert ev is not None
                ev.succeed()
        if rem:
            room = self.capacity - self.level
            if room > 0:
                if not self.level:
                    self.fill_time = now
                x = rem if rem < room else room
                rem -= x
                self.level += x
                level = self.level
                self.monitor.update(now, level if level < self.depth else self.depth)
        if not rem:
            return None
        self._put_rem = rem
        self._put_event = ev = self.env.event()
        return ev

    def get(self, words: int) -> simpy.Event | None:
        """Take ``words``; None when all were available now, else an event for the rest."""
        if self._get_need:
            raise RuntimeError(f"FIFO {self.name}: a second get while one is blocked")
        self.words_got += words
        need = words
        level = self.level
        x = need if need < level else level
        level -= x
        need -= x
        rem = self._put_rem
        if rem:
            y = need if need < rem else rem
            need -= y
            rem -= y
            room = self.capacity - level
            z = rem if rem < room else room
            if z and not level:
                self.fill_time = self.env._now
            level += z
            rem -= z
            self._put_rem = rem
            if not rem:
                ev = self._put_event
                self._put_event = None
                assert ev is not None
                ev.succeed()
        if level != self.level:
            self.level = level
            self.monitor.update(self.env._now, level if level < self.depth else self.depth)
        if not need:
            return None
        self._get_need = need
        self._get_event = ev = self.env.event()
        return ev

    def ready_at(self, handed_off: bool) -> float:
        """When words just taken are usable at the consumer, ``latency`` after they were put:
        now for words handed straight to a waiting consumer, else after the oldest buffered
        word (the one put when the FIFO last became non-empty)."""
        return (self.env._now if handed_off else self.fill_time) + self.latency

    # -- state for deadlock reports -------------------------------------------------------
    @property
    def blocked_put(self) -> int:
        """Words a blocked producer still has to hand over (0 if none is blocked)."""
        return self._put_rem

    @property
    def blocked_get(self) -> int:
        """Words a blocked consumer is still waiting for (0 if none is waiting)."""
        return self._get_need

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "src": self.src,
            "dst": self.dst,
            "depth": self.depth,
            "occupancy": self.level,
        }
