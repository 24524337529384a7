"""Latency tables: exact simulations at sampled points, interpolated in between.

The accelerator is deterministic, so a request's service time depends only on its lengths.
:class:`LatencyModel` simulates prefill at sampled prompt lengths and one decode step at
sampled contexts, then interpolates:

- prefill in the number of packs (the arrays process whole packs, so prompts that fill the
  same packs cost the same), linearly between sampled pack counts;
- decode linearly in the context;

and keeps a cumulative decode table, so a request's decode time is one subtraction.
``tests/test_serving.py`` measures the interpolation error against exact simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from math import ceil

import numpy as np

from spatialsim.design.graph import Design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.executor import Executor
from spatialsim.hardware.platform import Platform

Progress = Callable[[int, int, str], None]


def sample_points(low: int, high: int, count: int) -> list[int]:
    """Integers from ``low`` to ``high``: ``count`` geometrically spaced (dense where short
    prompts change fast) joined with ``count`` evenly spaced (for the long end)."""
    if high <= low:
        return [low]
    geo = np.round(np.geomspace(low, high, count)).astype(int)
    lin = np.round(np.linspace(low, high, count)).astype(int)
    return sorted({low, high, *(int(p) for p in geo), *(int(p) for p in lin)})


@dataclass(frozen=True)
class TablePoint:
    """One sampled point: a prefill of ``config.prompt_len`` tokens, or (decode_only) one
    decode step at that context."""

    design: Design
    platform: Platform
    config: RunConfig


def table_point(point: TablePoint) -> float:
    """ms of the point's prefill, or of its one decode step (a task for an executor)."""
    r = simulate(point.design, point.platform, point.config)
    if point.config.decode_only:
        return float(r.token_cycles[0] / r.clock_mhz / 1e3)
    return float(r.ttft_ms)


@dataclass
class LatencyModel:
    """Prefill ms by pack count and decode ms per step by context, for one design."""

    pack: int
    prefill_packs: np.ndarray
    prefill_ms: np.ndarray
    decode_ctx: np.ndarray
    decode_ms: np.ndarray
    max_context: int
    simulations: int

    @classmethod
    def build(
        cls,
        design: Design,
        platform: Platform,
        max_prompt: int,
        max_context: int,
        samples: int = 12,
        progress: Progress | None = None,
        base: RunConfig | None = None,
        executor: Executor | None = None,
    ) -> LatencyModel:
        """Simulate the sampled points with ``base``'s engine options (clock, cost
        constants, layers, granularity, host I/O); its lengths are replaced. The points
        are independent: ``executor`` runs them (in this process when None)."""
        pack = design.tokens_per_pack("prefill")
        base = base if base is not None else RunConfig(prompt_len=1)
        packs = sample_points(1, ceil(max_prompt / pack), samples)
        ctxs = sample_points(1, max(1, max_context - 1), samples)
        points = [
            TablePoint(
                design,
                platform,
                replace(base, prompt_len=min(n * pack, max_prompt), gen_len=0, decode_only=False),
            )
            for n in packs
        ] + [
            TablePoint(design, platform, replace(base, prompt_len=c, gen_len=1, decode_only=True))
            for c in ctxs
        ]
        ms = [0.0] * len(points)
        for done, (i, value) in enumerate((executor or Executor()).map(table_point, points), 1):
            ms[i] = value
            if progress:
                progress(done, len(points), "latency table")
        return cls(
            pack,
            np.array(packs, float),
            np.array(ms[: len(packs)]),
            np.array(ctxs, float),
            np.array(ms[len(packs) :]),
            max_context,
            len(points),
        )

    def prefill(self, prompt: int) -> float:
        """ms to prefill ``prompt`` tokens, linear between the sampled pack counts."""
        return float(np.interp(ceil(prompt / self.pack), self.prefill_packs, self.prefill_ms))

    def decode_step(self, context: int) -> float:
        """ms for one generated token whose attention spans ``context`` cached tokens."""
        return float(np.interp(context, self.decode_ctx, self.decode_ms))

    def decode_table(self) -> np.ndarray:
        """cum[c] = ms of the decode steps at contexts 0 .. c - 1."""
        steps = np.interp(np.arange(self.max_context + 1), self.decode_ctx, self.decode_ms)
        return np.concatenate([[0.0], np.cumsum(steps)])
