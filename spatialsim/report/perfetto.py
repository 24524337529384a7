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
from collections import Counter
from collections.abc import Iterator
from math import ceil
from math import inf as INF
from pathlib import Path
from typing import Any, cast

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
BATCH = 4096  # events encoded per call while writing (memory stays bounded)


def perfetto_trace(
    result: RunResult, points: int = 64, max_spans: int = MAX_SPANS
) -> dict[str, Any]:
    """The trace of ``result`` (which must have been run with ``timeline=True``)."""
    other: dict[str, Any] = {}
    encode = _encoder()
    text = ",".join(_texts(_events(result, points, max_spans, other), encode))
    return {"traceEvents": json.loads(f"[{text}]"), "displayTimeUnit": "ns", "otherData": other}


def write_perfetto(
    result: RunResult, path: Path, points: int = 64, max_spans: int = MAX_SPANS
) -> None:
    """Stream the trace of ``result`` to ``path`` as JSON, a batch of events at a time
    (strict: a non-finite number is an error, never written)."""
    other: dict[str, Any] = {}
    encode = _encoder()
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"traceEvents":[')
        batch: list[str] = []
        sep = ""
        for text in _texts(_events(result, points, max_spans, other), encode):
            batch.append(text)
            if len(batch) == BATCH:
                out.write(sep + ",".join(batch))
                batch.clear()
                sep = ","
        if batch:
            out.write(sep + ",".join(batch))
        out.write('],"displayTimeUnit":"ns","otherData":')
        out.write(encode(other) + "}")


def _encoder() -> Any:
    return json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _texts(events: Iterator[dict[str, Any] | str], encode: Any) -> Iterator[str]:
    """Each event as JSON text: the many spans and counter samples come encoded already
    (:func:`_x`, :func:`_c`), the few others as dicts."""
    for ev in events:
        yield ev if ev.__class__ is str else encode(ev)


def _finite(*values: float) -> None:
    for v in values:
        if not -INF < v < INF:  # NaN fails both comparisons
            raise ValueError(f"non-finite time or value {v!r} in the timeline: not written")


def _x(pid: int, tid: int, name: str, ts: float, dur: float) -> str:
    """A complete span ("X") as JSON text: {ph, pid, tid, name, cat (= name), ts, dur}.

    Times are written to the nanosecond (three decimals of a microsecond), the resolution
    Perfetto keeps when it imports a JSON trace; fixed-point formatting is also several
    times faster than the shortest round-trip form for the hundreds of thousands of
    numbers a long run writes."""
    _finite(ts, dur)
    q = _quoted(name)
    head = f'{{"ph":"X","pid":{pid},"tid":{tid},"name":{q},"cat":{q}'
    return f'{head},"ts":{ts:.3f},"dur":{dur:.3f}}}'


def _c(pid: int, name: str, ts: float, key: str, value: float) -> str:
    """A counter sample ("C") as JSON text: {ph, pid, name, ts, args: {key: value}}
    (the value to four decimals: words are integers, throughput GB/s to 0.1 MB/s)."""
    _finite(ts, value)
    return (
        f'{{"ph":"C","pid":{pid},"name":{_quoted(name)},"ts":{ts:.3f},'
        f'"args":{{{_quoted(key)}:{value:.4f}}}}}'
    )


_QUOTED: dict[str, str] = {}


def _quoted(name: str) -> str:
    """``name`` as a JSON string (track and state names repeat: encoded once)."""
    q = _QUOTED.get(name)
    if q is None:
        q = json.dumps(name)
        if len(_QUOTED) < 4096:
            _QUOTED[name] = q
    return q


def _events(
    result: RunResult, points: int, max_spans: int, other: dict[str, Any]
) -> Iterator[dict[str, Any] | str]:
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
) -> Iterator[dict[str, Any] | str]:
    """Each kernel's spans; a track over ``max_spans`` merged in groups of consecutive
    touching spans (dominant state named, shares in args; a group never bridges idle time)."""
    counts = Counter(rec[0] for rec in tl.spans)
    group = {str(k): ceil(n / max_spans) for k, n in counts.items()}
    merged = {k: g for k, g in group.items() if g > 1}
    if merged:
        other["aggregated"] = {
            "max_spans_per_track": max_spans,
            "spans_merged_per_shown_span": merged,
        }
    track = {k: (pids[k], tids[k], g) for k, g in group.items()}
    pending: dict[str, list[Any]] = {}  # kernel -> [start, end, n, {state: cycles}]
    for k, state, t0, t1 in cast("list[tuple[str, str, float, float]]", tl.spans):
        pid, tid, g = track[k]
        if g == 1:
            yield _x(pid, tid, state, t0 * us, (t1 - t0) * us)
            continue
        acc = pending.get(k)
        if acc is not None and t0 > acc[1]:  # idle in between: never draw a gap as work
            yield _aggregated(pid, tid, acc, us)
            acc = None
        if acc is None:
            acc = pending[k] = [t0, t1, 0, {state: t1 - t0}]
        else:
            acc[1] = t1
            shares = acc[3]
            shares[state] = shares.get(state, 0.0) + (t1 - t0)
        acc[2] += 1
        if acc[2] == g:
            yield _aggregated(pid, tid, acc, us)
            del pending[k]
    for k, acc in pending.items():
        pid, tid, _ = track[k]
        yield _aggregated(pid, tid, acc, us)


def _aggregated(pid: int, tid: int, acc: list[Any], us: float) -> str:
    """A merged group of spans as JSON text: named after its dominant state, with the
    number of spans and each state's share in args."""
    start, end, n, states = acc
    total = sum(states.values()) or 1.0
    top = max(states, key=states.get)
    ts, dur = start * us, (end - start) * us
    _finite(ts, dur)
    shares = "".join(f",{_quoted(st)}:{c / total:.4f}" for st, c in states.items())
    return (
        f'{{"ph":"X","pid":{pid},"tid":{tid},"name":{_quoted(top + " (aggregated)")},'
        f'"cat":{_quoted(top)},"ts":{ts:.3f},"dur":{dur:.3f},"args":{{"spans":{n}{shares}}}}}'
    )


def _windows(tl: Timeline) -> list[tuple[float, float]]:
    return [(la.start, la.end) for la in tl.launches]


def _fifo_counters(tl: Timeline, us: float, points: int) -> Iterator[str]:
    """Each FIFO's peak level per slice of each launch (a sample equal to the track's
    previous one is left out: a counter holds its value until the next sample)."""
    for fifo, samples in sorted(tl.fifo_levels.items()):
        i = 0
        last: int | None = None
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
                if peak[b] != last:
                    last = peak[b]
                    yield _c(FIFOS, fifo, (start + b * width) * us, "words", last)
            if peak and last != 0:
                last = 0
                yield _c(FIFOS, fifo, end * us, "words", 0)


def _channel_counters(
    tl: Timeline, us: float, points: int, clock_mhz: float, links: set[str]
) -> Iterator[str]:
    """Each channel's throughput per slice of each launch (repeated values left out, as
    for FIFOs)."""
    windows = _windows(tl)
    for channel, xfers in sorted(tl.transfers.items()):
        pid = LINKS if channel in links else HBM
        xs = sorted(xfers)
        last: float | None = None
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
                first = int((lo - start) / width)
                for k in range(first, min(int((hi - start) / width), points - 1) + 1):
                    s0, s1 = start + k * width, start + (k + 1) * width
                    bins[k] += rate * max(0.0, min(hi, s1) - max(lo, s0))
            if not any(bins):
                continue
            for k, moved in enumerate(bins):
                gbps = round(moved / width * clock_mhz * 1e6 / 1e9, 4)  # as written
                if gbps != last:
                    last = gbps
                    yield _c(pid, channel, (start + k * width) * us, "GB/s", gbps)
            if last != 0.0:
                last = 0.0
                yield _c(pid, channel, end * us, "GB/s", 0.0)
