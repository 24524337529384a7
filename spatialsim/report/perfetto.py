"""Chrome trace event JSON of a run, for the Perfetto UI (ui.perfetto.dev) and plots.

Tracks:

- process "host": one span per simulated launch, and one per step for its replayed layers;
- process "kernels": one thread per kernel with spans named busy, starved, blocked and
  hbm_wait. A step's replayed layers (identical to its first) appear as one span per kernel
  named "replayed xN";
- process "FIFOs": a counter per FIFO (words held);
- process "HBM": a counter per memory channel (GB/s).

On several cards each card's kernels are a process of their own ("card N kernels", their
threads named without the card prefix), and process "inter-card links" has a counter per
link (GB/s) next to the HBM channels.

To keep files small for real runs, spans of one kernel in the same state that touch are
merged as they are recorded. Only simulated launches are detailed (the first layer of each
step). FIFO levels are reduced to at most ``points`` samples per launch: the highest level
in each of ``points`` equal time slices. Channel throughput is binned into ``points``
slices per launch (fewer when there are so many launches that a track would exceed
``max_spans`` samples; ``otherData.counter_samples_per_launch`` then says how many). Times
are microseconds.

A kernel track holds at most ``max_spans`` spans (more than a viewer shows usefully): a
track that would hold more has consecutive spans merged in groups, each shown as its
dominant state ("busy (aggregated)") with every state's share in its args, and the file's
``otherData.aggregated`` says which tracks and by how much. Building the trace takes time
linear in the recorded spans, levels and transfers; :func:`write_perfetto` streams it to
disk event by event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from math import ceil
from pathlib import Path
from typing import Any

from spatialsim.metrics.result import RunResult
from spatialsim.metrics.timeline import Timeline

HOST, KERNELS, FIFOS, HBM, LINKS = 0, 1, 2, 3, 4
CARD_BASE = 10  # process id of card N's kernels: CARD_BASE + N
_CARD = re.compile(r"dev(\d+)\.(.*)")


def _kernel_track(kernel: str) -> tuple[int, str]:
    """The process of ``kernel`` and its thread name (card prefix dropped)."""
    m = _CARD.fullmatch(kernel)
    return (CARD_BASE + int(m.group(1)), m.group(2)) if m else (KERNELS, kernel)


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


MAX_SPANS = 20_000  # per kernel track


def perfetto_trace(
    result: RunResult, points: int = 64, max_spans: int = MAX_SPANS
) -> dict[str, Any]:
    """The trace of ``result`` (which must have been run with ``timeline=True``)."""
    other: dict[str, Any] = {}
    events = list(_events(result, points, max_spans, other))
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": other}


def write_perfetto(
    result: RunResult, path: Path, points: int = 64, max_spans: int = MAX_SPANS
) -> None:
    """Stream the trace of ``result`` to ``path`` as JSON, one event at a time (strict:
    a non-finite number is an error, never written)."""
    other: dict[str, Any] = {}
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"traceEvents":[')
        for i, ev in enumerate(_events(result, points, max_spans, other)):
            out.write(("," if i else "") + json.dumps(ev, separators=(",", ":"), allow_nan=False))
        out.write('],"displayTimeUnit":"ns","otherData":')
        out.write(json.dumps(other, separators=(",", ":"), allow_nan=False) + "}")


def _events(
    result: RunResult, points: int, max_spans: int, other: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    tl = result.timeline
    if tl is None:
        raise ValueError("the run has no timeline; simulate with RunConfig(timeline=True)")
    us = 1.0 / result.clock_mhz  # microseconds per cycle
    tids = {k: i for i, k in enumerate(tl.kernel_order)}
    pids = {k: _kernel_track(k)[0] for k in tids}
    yield from _meta(HOST, "host") + _meta(FIFOS, "FIFOs") + _meta(HBM, "HBM channels")
    for pid in sorted(set(pids.values())):
        yield from _meta(pid, "kernels" if pid == KERNELS else f"card {pid - CARD_BASE} kernels")
    if result.links:
        yield from _meta(LINKS, "inter-card links")
    yield from _meta(HOST, "", 0, 0, "launches")
    for k, i in tids.items():
        yield from _meta(pids[k], "", i, i, _kernel_track(k)[1])
    for la in tl.launches:
        what = "prefill" if la.phase == "prefill" else f"decode token {la.step}"
        yield {
            "ph": "X",
            "pid": HOST,
            "tid": 0,
            "name": f"{what}: layer 1",
            "cat": la.phase,
            "ts": la.start * us,
            "dur": (la.end - la.start) * us,
        }
        if la.copies:
            yield {
                "ph": "X",
                "pid": HOST,
                "tid": 0,
                "name": f"{what}: {la.copies} more identical layers (replayed)",
                "cat": "replayed",
                "ts": la.end * us,
                "dur": (la.copies_end - la.end) * us,
                "args": {"copies": la.copies},
            }
            for k, i in tids.items():
                yield {
                    "ph": "X",
                    "pid": pids[k],
                    "tid": i,
                    "name": f"replayed x{la.copies}",
                    "cat": "replayed",
                    "ts": la.end * us,
                    "dur": (la.copies_end - la.end) * us,
                }
    yield from _spans(tl, tids, pids, us, max_spans, other)
    # a counter track holds at most about max_spans samples too: fewer per launch when
    # there are many launches
    per_launch = max(2, min(points, max_spans // max(len(tl.launches), 1)))
    if per_launch < points:
        other["counter_samples_per_launch"] = per_launch
    yield from _fifo_counters(tl, us, per_launch)
    yield from _channel_counters(tl, us, per_launch, result.clock_mhz, set(result.links))
    other.update(
        {
            "model": result.model,
            "design": result.design,
            "platform": result.platform,
            "clock_mhz": result.clock_mhz,
            "prompt_len": result.prompt_len,
            "gen_len": result.gen_len,
            "layers": result.layers,
            "generator": "spatialsim",
        }
    )


def _spans(
    tl: Timeline,
    tids: dict[str, int],
    pids: dict[str, int],
    us: float,
    max_spans: int,
    other: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """Each kernel's spans; a track over ``max_spans`` merged in groups of consecutive
    touching spans (dominant state named, shares in args; a group never bridges idle time)."""
    counts: dict[str, int] = {}
    for rec in tl.spans:
        counts[str(rec[0])] = counts.get(str(rec[0]), 0) + 1
    group = {k: ceil(n / max_spans) for k, n in counts.items()}
    merged = {k: g for k, g in group.items() if g > 1}
    if merged:
        other["aggregated"] = {
            "max_spans_per_track": max_spans,
            "spans_merged_per_shown_span": merged,
        }
    pending: dict[str, list[Any]] = {}  # kernel -> [start, end, n, {state: cycles}]
    for kernel, state, start, end in tl.spans:
        k, t0, t1 = str(kernel), float(start), float(end)  # type: ignore[arg-type]
        if group[k] == 1:
            yield {
                "ph": "X",
                "pid": pids[k],
                "tid": tids[k],
                "name": state,
                "cat": state,
                "ts": t0 * us,
                "dur": (t1 - t0) * us,
            }
            continue
        acc = pending.get(k)
        if acc is not None and t0 > acc[1]:  # idle in between: never draw a gap as work
            yield _aggregated(pids[k], tids[k], acc, us)
            acc = None
        if acc is None:
            acc = pending[k] = [t0, t1, 0, {}]
        acc[1] = t1
        acc[2] += 1
        acc[3][state] = acc[3].get(state, 0.0) + (t1 - t0)
        if acc[2] == group[k]:
            yield _aggregated(pids[k], tids[k], acc, us)
            del pending[k]
    for k, acc in pending.items():
        yield _aggregated(pids[k], tids[k], acc, us)


def _aggregated(pid: int, tid: int, acc: list[Any], us: float) -> dict[str, Any]:
    start, end, n, states = acc
    total = sum(states.values()) or 1.0
    top = max(states, key=states.get)
    return {
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "name": f"{top} (aggregated)",
        "cat": top,
        "ts": start * us,
        "dur": (end - start) * us,
        "args": {"spans": n, **{s: round(c / total, 4) for s, c in states.items()}},
    }


def _windows(tl: Timeline) -> list[tuple[float, float]]:
    return [(la.start, la.end) for la in tl.launches]


def _fifo_counters(tl: Timeline, us: float, points: int) -> Iterator[dict[str, Any]]:
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
                yield {
                    "ph": "C",
                    "pid": FIFOS,
                    "name": fifo,
                    "ts": (start + b * width) * us,
                    "args": {"words": peak[b]},
                }
            if peak:
                yield {"ph": "C", "pid": FIFOS, "name": fifo, "ts": end * us, "args": {"words": 0}}


def _channel_counters(
    tl: Timeline, us: float, points: int, clock_mhz: float, links: set[str]
) -> Iterator[dict[str, Any]]:
    windows = _windows(tl)
    for channel, xfers in sorted(tl.transfers.items()):
        pid = LINKS if channel in links else HBM
        xs = sorted(xfers)
        j = 0  # the first transfer that may reach the current window (windows are in order)
        for start, end in windows:
            while j < len(xs) and xs[j][1] <= start:
                j += 1
            width = (end - start) / points or 1.0
            bins = [0.0] * points
            k0 = j
            while k0 < len(xs) and xs[k0][0] < end:
                a, b, nbytes = xs[k0]
                k0 += 1
                if b <= start or b <= a:
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
                yield {
                    "ph": "C",
                    "pid": pid,
                    "name": channel,
                    "ts": (start + k * width) * us,
                    "args": {"GB/s": round(gbps, 4)},
                }
            yield {"ph": "C", "pid": pid, "name": channel, "ts": end * us, "args": {"GB/s": 0.0}}
