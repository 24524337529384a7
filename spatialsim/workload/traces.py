"""Token-level request traces: the project's CSV format, seeded generators, and the public
Azure LLM inference trace format.

Our format (traces/README.md), one request per row, sorted by arrival:

    request_id,arrival_s,prompt_tokens,output_tokens

Generators draw arrivals (fixed rate, uniform gaps, Poisson) and lengths (fixed, uniform,
log-normal) from one seeded numpy generator, so a seed reproduces a trace byte for byte.
The Azure format is ``TIMESTAMP,ContextTokens,GeneratedTokens`` with wall-clock
timestamps; arrivals become seconds after the first request. Requests longer than the
model's context are clipped (the prompt is cut to fit) or dropped, as the caller chooses,
and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from spatialsim.errors import UserError, choices_message
from spatialsim.limits import MAX_ARRIVAL_S, MAX_REQUESTS, MAX_SEED, check_count
from spatialsim.tomlio import as_path, csv_rows, parse_decimal, parse_integer, read_text

if TYPE_CHECKING:
    import numpy as np

COLUMNS = ("request_id", "arrival_s", "prompt_tokens", "output_tokens")
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
ARRIVALS = ("fixed", "uniform", "poisson")
LENGTHS = ("fixed", "uniform", "lognormal")
OVERLONG = ("clip", "drop")


@dataclass(frozen=True)
class Request:
    request_id: str
    arrival_s: float
    prompt_tokens: int
    output_tokens: int


@dataclass
class Trace:
    """Requests in arrival order, and what loading did to the rest."""

    requests: list[Request]
    dropped: int = 0
    clipped: int = 0
    source: str = ""


def load_trace(
    path: Path, context: int | None = None, overlong: str = "clip", first: int | None = None
) -> Trace:
    """A trace in our format or the Azure format (told apart by the header): its ``first``
    requests in arrival order, clipped or dropped to ``context``."""
    path = as_path(path, "trace")
    if overlong not in OVERLONG:
        raise UserError(
            f"overlong {overlong!r} is not one of {', '.join(OVERLONG)}", field="overlong"
        )
    if first is not None:
        check_count(first, "limit", 1, MAX_REQUESTS, "requests of a trace")
    text = read_text(path, "trace")
    header, rows = csv_rows(text, str(path))
    if tuple(header) == AZURE_COLUMNS:
        reqs = _azure_rows(path, rows)
    elif tuple(header) == COLUMNS:
        reqs = _our_rows(path, rows)
    else:
        raise UserError(
            f"{path}: unknown trace header {','.join(header)!r}; expected "
            f"{','.join(COLUMNS)} or the Azure format {','.join(AZURE_COLUMNS)}"
        )
    if len(reqs) > MAX_REQUESTS:
        raise UserError(
            f"{path}: {len(reqs):,} requests; at most {MAX_REQUESTS:,} are replayed (a day at "
            "11.6 requests per second): split the trace"
        )
    if first is not None:
        reqs = reqs[:first]
    return fit_context(Trace(reqs, source=str(path)), context, overlong)


MAX_TOKENS = 10_000_000  # per request: far beyond any model's context


def _int_cell(path: Path, row: int, col: str, text: str, low: int) -> int:
    text = text.strip()
    if len(text) > 12:
        raise UserError(f"{path}: row {row}: {col} = {text[:20]!r}... is not a token count")
    try:
        value = parse_integer(text)
    except ValueError:
        raise UserError(
            f"{path}: row {row}: {col} = {text!r} is not an integer (ASCII digits)"
        ) from None
    if value < low or value > MAX_TOKENS:
        raise UserError(
            f"{path}: row {row}: {col} = {value} must be in [{low}, {MAX_TOKENS:,}] tokens"
        )
    return value


def _our_rows(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[Request]:
    out = []
    last = float("-inf")
    for i, r in rows:
        try:
            arrival = parse_decimal(r["arrival_s"])
        except ValueError:
            raise UserError(
                f"{path}: row {i}: arrival_s = {r['arrival_s'][:40]!r} is not a number"
            ) from None
        if not 0 <= arrival <= MAX_ARRIVAL_S:
            raise UserError(
                f"{path}: row {i}: arrival_s = {arrival} must be from 0 to "
                f"{MAX_ARRIVAL_S:g} seconds"
            )
        if arrival < last:
            raise UserError(
                f"{path}: row {i}: arrival_s = {arrival} is earlier than the row "
                f"before ({last}); rows must be in arrival order"
            )
        last = arrival
        out.append(
            Request(
                r["request_id"],
                arrival,
                _int_cell(path, i, "prompt_tokens", r["prompt_tokens"], 1),
                _int_cell(path, i, "output_tokens", r["output_tokens"], 0),
            )
        )
    if not out:
        raise UserError(f"{path}: the trace has no requests")
    return out


def _azure_rows(path: Path, table: list[tuple[int, dict[str, str]]]) -> list[Request]:
    rows = []
    for i, r in table:
        stamp = r["TIMESTAMP"].strip()
        try:
            # seven fractional digits: keep microseconds, which datetime accepts
            when = datetime.strptime(stamp[:26], "%Y-%m-%d %H:%M:%S.%f")
        except ValueError:
            raise UserError(
                f"{path}: row {i}: TIMESTAMP {stamp!r} is not 'YYYY-MM-DD HH:MM:SS.fffffff'"
            ) from None
        rows.append(
            (
                when,
                _int_cell(path, i, "ContextTokens", r["ContextTokens"], 1),
                _int_cell(path, i, "GeneratedTokens", r["GeneratedTokens"], 0),
            )
        )
    if not rows:
        raise UserError(f"{path}: the trace has no requests")
    rows.sort(key=lambda x: x[0])
    t0 = rows[0][0]
    return [
        Request(f"azure-{i}", (w - t0).total_seconds(), p, g) for i, (w, p, g) in enumerate(rows)
    ]


def fit_context(trace: Trace, context: int | None, overlong: str) -> Trace:
    """Clip or drop requests whose prompt + output exceed ``context`` tokens."""
    if overlong not in OVERLONG:
        raise UserError(choices_message("overlong policy", overlong, OVERLONG))
    if context is None:
        return trace
    kept, dropped, clipped = [], trace.dropped, trace.clipped
    for r in trace.requests:
        if r.prompt_tokens + r.output_tokens <= context:
            kept.append(r)
        elif overlong == "drop" or r.output_tokens >= context:
            dropped += 1
        else:
            clipped += 1
            kept.append(
                Request(r.request_id, r.arrival_s, context - r.output_tokens, r.output_tokens)
            )
    return Trace(kept, dropped, clipped, trace.source)


def trace_csv(requests: list[Request]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [
        f"{r.request_id},{r.arrival_s:.6f},{r.prompt_tokens},{r.output_tokens}" for r in requests
    ]
    return "\n".join(lines) + "\n"


# ---- generators ------------------------------------------------------------------------


MIN_RATE, MAX_RATE = 1e-6, 1e6  # arrivals per second: one in 11.6 days to a million a second
MAX_SIGMA = 5.0  # a lognormal's sigma: at 5, the 99th percentile is 1e5 times the median


@dataclass(frozen=True)
class LengthDist:
    """``fixed`` (a), ``uniform`` (integers in [a, b]) or ``lognormal`` (median a, sigma b
    of the underlying normal), clipped to [low, high]."""

    kind: str
    a: float
    b: float = 0.0
    low: int = 1
    high: int = 1 << 20

    def __post_init__(self) -> None:
        if self.kind not in LENGTHS:
            raise UserError(choices_message("length distribution", self.kind, LENGTHS))
        names = {"fixed": ("N",), "uniform": ("LO", "HI"), "lognormal": ("MEDIAN", "SIGMA")}
        highs = (self.high, MAX_SIGMA if self.kind == "lognormal" else self.high)
        for name, value, high in zip(names[self.kind], (self.a, self.b), highs, strict=False):
            if not (math.isfinite(value) and 0 <= value <= high):
                raise UserError(
                    f"length distribution {self.kind}: {name} = {value!r} must be from 0 to "
                    f"{high:,}" + (" (tokens)" if name != "SIGMA" else "")
                )
        if self.kind == "uniform" and self.b < self.a:
            raise UserError(
                f"uniform lengths: upper bound {self.b:g} is below the lower bound {self.a:g}"
            )

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np

        if self.kind == "fixed":
            v = np.full(n, round(self.a))
        elif self.kind == "uniform":
            v = rng.integers(int(self.a), int(self.b) + 1, n)
        else:
            v = np.round(rng.lognormal(np.log(max(self.a, 1e-9)), self.b, n))
        out: np.ndarray = np.clip(v, self.low, self.high).astype(int)
        return out


def parse_length(spec: str, low: int = 1) -> LengthDist:
    """'fixed:128', 'uniform:32:512' or 'lognormal:200:0.8'."""
    parts = spec.split(":")
    try:
        nums = [parse_decimal(x) for x in parts[1:]]
    except ValueError:
        raise UserError(
            f"length {spec!r}: expected fixed:N, uniform:LO:HI or lognormal:MEDIAN:SIGMA"
        ) from None
    need = {"fixed": 1, "uniform": 2, "lognormal": 2}.get(parts[0])
    if need is None or len(nums) != need:
        raise UserError(
            f"length {spec!r}: expected fixed:N, uniform:LO:HI or lognormal:MEDIAN:SIGMA"
        )
    return LengthDist(parts[0], nums[0], nums[1] if need == 2 else 0.0, low=low)


def arrivals(
    kind: str, n: int, rate_per_s: float, rng: np.random.Generator, spread: float = 0.5
) -> np.ndarray:
    """Arrival times (s) of ``n`` requests at ``rate_per_s`` on average: ``fixed`` gaps,
    ``uniform`` gaps in [(1 - spread), (1 + spread)] / rate, or ``poisson``."""
    import numpy as np

    if kind not in ARRIVALS:
        raise UserError(choices_message("arrival process", kind, ARRIVALS))
    if not MIN_RATE <= rate_per_s <= MAX_RATE:
        raise UserError(
            f"arrival rate must be from {MIN_RATE:g} to {MAX_RATE:g} requests per second, "
            f"got {rate_per_s}"
        )
    mean = 1.0 / rate_per_s
    if kind == "fixed":
        gaps = np.full(n, mean)
    elif kind == "uniform":
        gaps = rng.uniform((1 - spread) * mean, (1 + spread) * mean, n)
    else:
        gaps = rng.exponential(mean, n)
    gaps[0] = 0.0
    times: np.ndarray = np.cumsum(gaps)
    if times[-1] > MAX_ARRIVAL_S:
        raise UserError(
            f"{n:,} requests at {rate_per_s:g} per second arrive over {times[-1]:.3g} s; "
            f"at most {MAX_ARRIVAL_S:g} s: raise the rate or ask for fewer requests"
        )
    return times


def synthesize(
    n: int, arrival: str, rate_per_s: float, prompt: LengthDist, output: LengthDist, seed: int
) -> list[Request]:
    """A seeded synthetic trace."""
    check_count(n, "requests", 1, MAX_REQUESTS, "a day at 11.6 requests per second")
    check_count(seed, "seed", 0, MAX_SEED)
    import numpy as np

    rng = np.random.default_rng(seed)
    times = arrivals(arrival, n, rate_per_s, rng)
    p, o = prompt.draw(rng, n), output.draw(rng, n)
    return [
        Request(f"r{i}", float(t), int(a), int(b))
        for i, (t, a, b) in enumerate(zip(times, p, o, strict=True))
    ]
