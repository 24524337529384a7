"""Read a run's Perfetto trace for the figures in bounded memory.

A long run's ``trace.perfetto.json`` holds hundreds of thousands of events; loading it
whole as Python objects takes about ten times its size. The figures need much less: the
track names, the launches, every span of the first prefill layer (the layer chart), the
FIFO levels of that layer, and for the whole-run chart spans no finer than a figure can
show. :func:`read_trace` decodes the file one event at a time from a few megabytes of
text and keeps only that, so its memory is bounded by the figures, not by the run:

- spans that start after the first prefill layer are summed per track into
  ``RESOLUTION`` equal slices of the run (the whole-run chart is about 1,100 pixels wide):
  each occupied slice becomes one span over the slice, in its dominant state, with the
  share of the slice the kernel was active (``args.occupancy``; the chart draws it as the
  bar's opacity);
- FIFO and memory counter samples after the first prefill layer are dropped (no figure
  reads them).

Events before the first launch is known (a file not written by spatialsim may order them
differently) are kept as they are. The document keeps the shape the figures read:
``traceEvents`` and ``otherData``.
"""

from __future__ import annotations

import codecs
import json
from contextlib import closing
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError
from spatialsim.tomlio import read_chunks

RESOLUTION = 2000  # slices of the run the whole-run chart's spans are summed into
HEAD = '{"traceEvents":['
MAX_EVENT_CHARS = 1 << 20  # an event longer than this is a malformed file


def read_trace(path: Path) -> dict[str, Any]:
    """The events of ``path`` the figures need (see the module docstring)."""
    chunks = read_chunks(path, "trace file")
    with closing(chunks):
        decoder = codecs.getincrementaldecoder("utf-8")()
        keep = _Keeper()
        text, pos, base, ended = "", 0, 0, False  # base: characters dropped before text

        def decode(chunk: bytes | None) -> str:
            try:
                return decoder.decode(chunk or b"", final=chunk is None)
            except UnicodeDecodeError:
                raise UserError(f"{path}: not a text trace file (not UTF-8)") from None

        def more() -> bool:
            nonlocal text, pos, base, ended
            if ended:
                return False
            chunk = next(chunks, None)
            ended = chunk is None
            base += pos
            text, pos = text[pos:] + decode(chunk), 0
            return True

        while len(text) < len(HEAD) and more():
            pass
        if not text.lstrip().startswith(HEAD):
            # not spatialsim's layout: read it whole (bounded by the reader's size limit)
            whole = text + "".join(decode(c) for c in chunks) + decode(None)
            return _whole(path, whole)
        pos = text.index(HEAD) + len(HEAD)
        raw = json.JSONDecoder().raw_decode
        while True:
            while True:  # skip separators
                while pos < len(text) and text[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(text) or not more():
                    break
            if pos >= len(text):
                raise UserError(f"{path}: the trace ends inside its event list (truncated?)")
            if text[pos] == "]":
                break
            try:
                event, end = raw(text, pos)
            except json.JSONDecodeError:
                # an event cut by the end of what was read: read on (events are small, so a
                # failure with a megabyte still ahead is a malformed file)
                if len(text) - pos < MAX_EVENT_CHARS and more():
                    continue
                raise UserError(f"{path}: malformed event at character {base + pos:,}") from None
            if not isinstance(event, dict):
                raise UserError(f"{path}: an event is a JSON {type(event).__name__}")
            try:
                keep.add(event)
            except ValueError as exc:
                raise UserError(
                    f"{path}: malformed event at character {base + pos:,} ({exc})"
                ) from None
            pos = end
        parts = [text[pos + 1 :]]
        if not ended:
            parts += [decode(c) for c in chunks]
            parts.append(decode(None))
        tail = "".join(parts).strip()  # ',"displayTimeUnit":"ns","otherData":{...}}' or '}'
        doc = _whole(path, "{" + (tail[1:] if tail.startswith(",") else tail))
        return {**doc, "traceEvents": keep.events()}


def _whole(path: Path, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise UserError(
            f"{path}: not a JSON trace; regenerate it with the command that wrote the folder"
        ) from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: a JSON {type(doc).__name__}, not the trace object")
    return doc


class _Keeper:
    """The events kept: everything up to the end of the first prefill layer; after it, no
    counters, and spans summed per track into ``RESOLUTION`` slices of the run."""

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.layer_end: float | None = None  # end of the first prefill launch
        self.run_end = 0.0
        # (pid, tid) -> slice -> state -> microseconds spent in that state in the slice
        self.slices: dict[tuple[Any, Any], dict[int, dict[str, float]]] = {}

    def add(self, e: dict[str, Any]) -> None:
        ph, pid = e.get("ph"), e.get("pid")
        if ph == "X" and pid == 0:  # a launch (or its replayed layers) on the host track
            end = _num(e.get("ts")) + _num(e.get("dur"))
            self.run_end = max(self.run_end, end)
            if self.layer_end is None and e.get("cat") == "prefill":
                self.layer_end = end
            self.kept.append(e)
            return
        cut = self.layer_end
        if cut is None or ph not in ("X", "C") or _num(e.get("ts")) < cut or not self.run_end:
            self.kept.append(e)
            return
        if ph == "C":
            return  # counters after the first layer: no figure reads them
        width = self.run_end / RESOLUTION
        state = str(e.get("cat") or e.get("name"))
        track = self.slices.setdefault((pid, e.get("tid")), {})
        t, end = _num(e.get("ts")), _num(e.get("ts")) + _num(e.get("dur"))
        while t < end:  # the span's time, slice by slice
            k = int(t / width)
            edge = min(end, (k + 1) * width)
            shares = track.setdefault(k, {})
            shares[state] = shares.get(state, 0.0) + (edge - t)
            if edge <= t:  # a span at the float limit of its slice: counted, move on
                break
            t = edge

    def events(self) -> list[dict[str, Any]]:
        """The kept events, then one span per occupied slice of each track, over the whole
        slice, in its dominant state, with the share of the slice the kernel was active
        (``args.occupancy``): what a pixel of the whole-run chart can show."""
        width = self.run_end / RESOLUTION
        cut = self.layer_end or 0.0
        out = list(self.kept)
        for (pid, tid), track in self.slices.items():
            for k, shares in sorted(track.items()):
                state = max(shares, key=shares.__getitem__)
                start = max(k * width, cut)  # the first layer's chart draws spans before cut
                out.append(
                    {
                        "ph": "X",
                        "pid": pid,
                        "tid": tid,
                        "name": state,
                        "cat": state,
                        "ts": start,
                        "dur": (k + 1) * width - start,
                        "args": {"occupancy": min(1.0, sum(shares.values()) / width)},
                    }
                )
        return out


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a time {value!r} that is not a number")
    return float(value)
