"""Chrome trace event JSON of a run, for the Perfetto UI (ui.perfetto.dev) and plots.

Tracks:

- process "host": one span per simulated launch, and one per step for its replayed layers;
- process "kernels": one thread per kernel with spans named busy, starved, blocked and
  hbm_wait. A step's replayed layers (identical to its first) appear as one span per kernel
  named "replayed xN";
- process "FIFOs": a counter per FIFO (words held);
- process "HBM": a counter per memory channel (GB/s).

To keep files small for real runs, spans of one kernel in the same state that touch are
merged as they are recorded. Only simulated launches are detailed (the first layer of each
step). FIFO levels are reduced to at most ``points`` samples per launch: the highest level
in each of ``points`` equal time slices. Channel throughput is binned into ``points``
slices per launch. Times are microseconds.
"""

from __future__ import annotations

from typing import Any

from spatialsim.metrics.result import RunResult
from spatialsim.metrics.timeline import Timeline

HOST, KERNELS, FIFOS, HBM = 0, 1, 2, 3


def _meta(
    pid: int, name: str, tid: int | None = None, sort: int | None = None, thread: str | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if thread is None:
        out.append({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}})
        out.append(
            {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}
        )
    else:
        out.append(
            {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": thread}}
        )
        out.append(
            {
                "ph": "M",
                "name": "thread_sort_index",
                "pid": pid,
                "tid": tid,
                "args": {"sort_index": sort},
            }
        )
    return out


def perfetto_trace(result: RunResult, points: int = 64) -> dict[str, Any]:
    """The trace of ``result`` (which must have been run with ``timeline=True``)."""
    tl = result.timeline
    if tl is None:
        raise ValueError("the run has no timeline; simulate with RunConfig(timeline=True)")
    us = 1.0 / result.clock_mhz  # microseconds per cycle
    ev: list[dict[str, Any]] = []
    ev += _meta(HOST, "host") + _meta(KERNELS, "kernels") + _meta(FIFOS, "FIFOs")
    ev += _meta(HBM, "HBM channels")
    ev += _meta(HOST, "", 0, 0, "launches")
    tids = {k: i for i, k in enumerate(tl.kernel_order)}
    for k, i in tids.items():
        ev += _meta(KERNELS, "", i, i, k)
    for la in tl.launches:
        what = "prefill" if la.phase == "prefill" else f"decode token {la.step}"
        ev.append(
            {
                "ph": "X",
                "pid": HOST,
                "tid": 0,
                "name": f"{what}: layer 1",
                "cat": la.phase,
                "ts": la.start * us,
                "dur": (la.end - la.start) * us,
            }
        )
        if la.copies:
            ev.append(
                {
                    "ph": "X",
                    "pid": HOST,
                    "tid": 0,
                    "name": f"{what}: {la.copies} more identical layers (replayed)",
                    "cat": "replayed",
                    "ts": la.end * us,
                    "dur": (la.copies_end - la.end) * us,
                    "args": {"copies": la.copies},
                }
            )
            for i in tids.values():
                ev.append(
                    {
                        "ph": "X",
                        "pid": KERNELS,
                        "tid": i,
                        "name": f"replayed x{la.copies}",
                        "cat": "replayed",
                        "ts": la.end * us,
                        "dur": (la.copies_end - la.end) * us,
                    }
                )
    for kernel, state, start, end in tl.spans:
        t0, t1 = float(start), float(end)  # type: ignore[arg-type]
        ev.append(
            {
                "ph": "X",
                "pid": KERNELS,
                "tid": tids[str(kernel)],
                "name": state,
                "cat": state,
                "ts": t0 * us,
                "dur": (t1 - t0) * us,
            }
        )
    ev += _fifo_counters(tl, us, points)
    ev += _channel_counters(tl, us, points, result.clock_mhz)
    return {
        "traceEvents": ev,
        "displayTimeUnit": "ns",
        "otherData": {
            "model": result.model,
            "design": result.design,
            "platform": result.platform,
            "clock_mhz": result.clock_mhz,
            "prompt_len": result.prompt_len,
            "gen_len": result.gen_len,
            "layers": result.layers,
            "generator": "spatialsim",
        },
    }


def _windows(tl: Timeline) -> list[tuple[float, float]]:
    return [(la.start, la.end) for la in tl.launches]


def _fifo_counters(tl: Timeline, us: float, points: int) -> list[dict[str, Any]]:
    out = []
    for fifo, samples in sorted(tl.fifo_levels.items()):
        i = 0
        for start, end in _windows(tl):
            width = (end - start) / points or 1.0
            peak: dict[int, int] = {}
            while i < len(samples) and samples[i][0] <= end:
                t, level = samples[i]
                if t >= start:
                    b = min(int((t - start) / width), points - 1)
                    peak[b] = max(peak.get(b, 0), level)
                i += 1
            for b in sorted(peak):
                out.append(
                    {
                        "ph": "C",
                        "pid": FIFOS,
                        "name": fifo,
                        "ts": (start + b * width) * us,
                        "args": {"words": peak[b]},
                    }
                )
            if peak:
                out.append(
                    {"ph": "C", "pid": FIFOS, "name": fifo, "ts": end * us, "args": {"words": 0}}
                )
    return out


def _channel_counters(
    tl: Timeline, us: float, points: int, clock_mhz: float
) -> list[dict[str, Any]]:
    out = []
    for channel, xfers in sorted(tl.transfers.items()):
        for start, end in _windows(tl):
            width = (end - start) / points or 1.0
            bins = [0.0] * points
            for a, b, nbytes in xfers:
                if b <= start or a >= end or b <= a:
                    continue
                rate = nbytes / (b - a)  # bytes per cycle
                lo, hi = max(a, start), min(b, end)
                first, last = int((lo - start) / width), min(int((hi - start) / width), points - 1)
                for k in range(first, last + 1):
                    s0, s1 = start + k * width, start + (k + 1) * width
                    bins[k] += rate * max(0.0, min(hi, s1) - max(lo, s0))
            if not any(bins):
                continue
            for k, moved in enumerate(bins):
                gbps = moved / width * clock_mhz * 1e6 / 1e9
                out.append(
                    {
                        "ph": "C",
                        "pid": HBM,
                        "name": channel,
                        "ts": (start + k * width) * us,
                        "args": {"GB/s": round(gbps, 4)},
                    }
                )
            out.append(
                {"ph": "C", "pid": HBM, "name": channel, "ts": end * us, "args": {"GB/s": 0.0}}
            )
    return out
