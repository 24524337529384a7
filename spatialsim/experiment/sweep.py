"""Design-space sweeps: a base request and axes, every point checked for fit, simulated,
compared with the analytical model, and written as one row of a results table.

A spec is TOML (docs/sweep.md)::

    [base]                      # RunRequest fields
    model = "gpt2-medium"
    design = "chen2024-w8a8"
    prompt_len = 128
    gen_len = 8

    [axes]                      # --set paths, --cost names or request fields
    "kernel.ffn1.cols" = [8, 16, 32]
    clock_mhz = {range = [200, 300, 50]}        # start, stop (inclusive), step
    "kernel.q_proj.cols" = {low = 4, high = 16, integer = true}   # needs [sample]

    [sample]                    # optional: draw points instead of the full product
    method = "lhs"              # or "random"
    points = 20
    seed = 1

Without ``[sample]`` the points are the product of the axes' values, in order. With it,
``points`` points are drawn (Latin hypercube or uniform, seeded): an axis given as
``{low, high}`` takes values in that interval (rounded with ``integer = true``), an axis
given as a list takes one of its values.

Each point becomes a :class:`~spatialsim.experiment.request.RunRequest`; its ``key`` names
its row. :func:`run_point` never raises: a point that does not fit (resources, HBM
channels, clock) is recorded infeasible with the reason and not simulated; one that
deadlocks is recorded infeasible with the diagnosis; anything else is recorded with its
error. :func:`sweep` writes rows as they complete through one writer, and on a restart
skips every key already written, so a killed sweep resumes without recomputing anything.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialsim import defaults
from spatialsim.costmodel.params import CostParams
from spatialsim.errors import DeadlockError, UserError
from spatialsim.executor import Executor
from spatialsim.experiment.request import RunRequest
from spatialsim.fileutil import atomic_write_text
from spatialsim.limits import check_progress
from spatialsim.optional import available
from spatialsim.tomlio import as_path, line_table, parse_json, parse_toml, read_text

SET_PREFIXES = ("kernel.", "fifo.", "design.", "kind.")
# request fields an axis may not sweep (they are lists of settings, or outputs)
NOT_AXES = ("set", "cost", "power", "timeline")
METHODS = ("lhs", "random")
MAX_POINTS = 1_000_000
METRICS = (
    "feasible",
    "reason",
    "error",
    "ttft_ms",
    "tpot_ms",
    "tokens_per_s",
    "analytical_ttft_ms",
    "analytical_tpot_ms",
    "dsp",
    "lut",
    "ff",
    "bram36",
    "uram",
    "bound_kernel",
    "bound_stall",
    "bound_stall_share",
    "energy_j_per_token",
    "wall_s",
)


@dataclass(frozen=True)
class Axis:
    """One swept quantity: what it sets (a request ``field``, a ``cost`` constant or a
    design ``set`` target) and its values (or its interval when sampled)."""

    name: str
    target: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    # other quantities that take the same value at every point ((name, target) pairs):
    # the Q, K and V projections' widths swept together, say
    tied: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SweepSpec:
    base: RunRequest
    axes: tuple[Axis, ...]
    method: str | None = None
    points: int = 0
    seed: int = 0
    text: str = ""

    @property
    def digest(self) -> str:
        """Identifies the spec (its canonical TOML content) for resuming."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def columns(self) -> list[str]:
        return ["key", *(a.name for a in self.axes), *METRICS]

    def values(self) -> list[dict[str, Any]]:
        """Every point as ``axis name -> value``, in a fixed order."""
        if self.method is None:
            names = [a.name for a in self.axes]
            return [dict(zip(names, combo, strict=True)) for combo in
                    itertools.product(*(a.values for a in self.axes))]  # fmt: skip
        return _sample(self)

    def requests(self) -> list[tuple[dict[str, Any], RunRequest]]:
        return [(v, point_request(self.base, self.axes, v)) for v in self.values()]


def _target(name: str) -> str:
    fields = {f.name for f in dataclasses.fields(RunRequest)} - set(NOT_AXES)
    if name in fields:
        return "field"
    if name in {f.name for f in dataclasses.fields(CostParams)}:
        return "cost"
    if name.startswith(SET_PREFIXES):
        return "set"
    raise UserError(
        f"axis {name!r} is neither a request field ({', '.join(sorted(fields))}), a cost "
        f"constant (`cost` names) nor a `set` path (kernel.<name>.<param>, "
        "fifo.<name>.depth, design.<field>, kind.<kind>.<param>)",
        field="axes",
    )


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where}: {value!r} is not a finite number", field="axes")
    return float(value)


AXIS_KEYS = ("values", "range", "low", "high", "integer", "with")


def _axis(name: str, raw: Any, sampled: bool) -> Axis:
    where = f"axes.{name}"
    target = _target(name)
    if isinstance(raw, list):
        return Axis(name, target, _listed(where, raw))
    if not isinstance(raw, dict):
        raise UserError(
            f"{where}: give a list of values, {{values = [..]}}, {{range = [start, stop, "
            f"step]}} or {{low = .., high = ..}} (with [sample]), got {raw!r}",
            field="axes",
        )
    unknown = sorted(set(raw) - set(AXIS_KEYS))
    if unknown:
        raise UserError(
            f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(AXIS_KEYS)}", field="axes"
        )
    tied = _tied(where, name, raw.get("with", []))
    if "values" in raw:
        return Axis(name, target, _listed(where, raw["values"]), tied=tied)
    if "range" in raw:
        r = raw["range"]
        if not isinstance(r, list) or len(r) != 3:
            raise UserError(f"{where}: range = [start, stop, step], got {r!r}", field="axes")
        start, stop, step = (_number(where, x) for x in r)
        if step <= 0 or stop < start:
            raise UserError(f"{where}: range needs step > 0 and stop >= start", field="axes")
        span = (stop - start) / step
        if not math.isfinite(span) or span + 1 > MAX_POINTS:
            raise UserError(
                f"{where}: range [{start:g}, {stop:g}, {step:g}] has more than "
                f"{MAX_POINTS:,} values",
                field="axes",
            )
        count = math.floor(span + 1e-9) + 1
        integral = all(float(x).is_integer() for x in (start, step))
        vals = [start + i * step for i in range(count)]
        return Axis(name, target, tuple(int(v) if integral else v for v in vals), tied=tied)
    if "low" in raw and "high" in raw:
        if not sampled:
            raise UserError(
                f"{where}: an interval {{low, high}} needs a [sample] table (method, points, "
                "seed); give a list or a range to sweep every value",
                field="axes",
            )
        low, high = _number(where, raw["low"]), _number(where, raw["high"])
        if not high > low:
            raise UserError(f"{where}: high must exceed low", field="axes")
        if not math.isfinite(high - low):
            raise UserError(
                f"{where}: the interval [{low:g}, {high:g}] is wider than a float can hold",
                field="axes",
            )
        integer = raw.get("integer", False)
        if not isinstance(integer, bool):
            raise UserError(f"{where}: integer must be true or false", field="axes")
        return Axis(name, target, (), low, high, integer, tied)
    raise UserError(
        f"{where}: a table needs values = [..], range = [start, stop, step] or low and high",
        field="axes",
    )


def _listed(where: str, raw: Any) -> tuple[Any, ...]:
    if not isinstance(raw, list) or not raw:
        raise UserError(f"{where}: give at least one value", field="axes")
    for v in raw:
        if isinstance(v, float) and not math.isfinite(v):
            raise UserError(f"{where}: {v!r} is not a finite number", field="axes")
    return tuple(raw)


def _tied(where: str, name: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """The ``with`` list of an axis: other quantities set to the axis' value."""
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise UserError(
            f"{where}: with = [..] lists `set` paths, `cost` names or request fields that "
            f"take the axis' value, got {raw!r}",
            field="axes",
        )
    if name in raw or len(set(raw)) != len(raw):
        raise UserError(f"{where}: with names a quantity twice", field="axes")
    try:
        return tuple((t, _target(t)) for t in raw)
    except UserError as exc:
        raise UserError(f"{where}: with: {exc}", field="axes") from None


def load_spec(path: str | Path) -> SweepSpec:
    path = as_path(path, "spec")
    text = read_text(path, "sweep spec")
    return parse_spec(text, str(path))


def parse_spec(text: str, origin: str = "<spec>") -> SweepSpec:
    if not isinstance(text, str) or not isinstance(origin, str):
        raise UserError(
            f"parse_spec takes the spec's TOML text and a name for it, got "
            f"{type(text).__name__} and {type(origin).__name__}",
            field="text",
        )
    data = parse_toml(text, origin)
    unknown = sorted(set(data) - {"base", "axes", "sample"})
    if unknown:
        raise UserError(f"{origin}: unknown table [{unknown[0]}]; valid: base, axes, sample")
    base_fields = data.get("base", {})
    if not isinstance(base_fields, dict):
        raise UserError(f"{origin}: [base] must be a table of request fields")
    try:
        base = RunRequest(**base_fields)
    except TypeError:
        names = {f.name for f in dataclasses.fields(RunRequest)}
        bad = sorted(set(base_fields) - names)
        raise UserError(
            f"{origin}: [base] has unknown field(s) {', '.join(bad)}; valid: "
            f"{', '.join(sorted(names))}"
        ) from None
    except UserError as exc:
        raise UserError(f"{origin}: [base]: {exc}") from None
    sample = data.get("sample")
    method: str | None = None
    points: Any = 0
    seed: Any = 0
    if sample is not None:
        if not isinstance(sample, dict):
            raise UserError(f"{origin}: [sample] must be a table")
        method = sample.get("method", "lhs")
        if method not in METHODS:
            raise UserError(f"{origin}: sample.method {method!r}; valid: {', '.join(METHODS)}")
        points, seed = sample.get("points"), sample.get("seed", 0)
        for key, value in (("points", points), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{origin}: sample.{key} must be a non-negative integer")
        if not 1 <= points <= MAX_POINTS:
            raise UserError(f"{origin}: sample.points must be 1 to {MAX_POINTS:,}")
    axes_raw = data.get("axes")
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise UserError(f"{origin}: [axes] must name at least one axis")
    try:
        axes = tuple(_axis(name, raw, method is not None) for name, raw in axes_raw.items())
    except UserError as exc:
        raise UserError(f"{origin}: {exc}") from None
    seen: dict[str, str] = {}
    for a in axes:
        for t, _ in a.tied:
            if t in axes_raw or t in seen:
                raise UserError(
                    f"{origin}: axes.{a.name}: with sets {t!r}, which "
                    f"{'is an axis' if t in axes_raw else 'axes.' + seen[t] + ' sets too'}",
                    field="axes",
                )
            seen[t] = a.name
    if method is None:
        total = math.prod(len(a.values) for a in axes)
        if total > MAX_POINTS:
            raise UserError(f"{origin}: the axes make {total:,} points; at most {MAX_POINTS:,}")
    canon = json.dumps({"base": base.to_dict(), "axes": axes_raw, "sample": sample},
                       sort_keys=True, default=str)  # fmt: skip
    return SweepSpec(base, axes, method, points, seed, canon)


def _sample(spec: SweepSpec) -> list[dict[str, Any]]:
    import numpy as np

    d = len(spec.axes)
    if spec.method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=d, seed=spec.seed).random(spec.points)
    else:
        unit = np.random.default_rng(spec.seed).random((spec.points, d))
    out = []
    for row in unit:
        point: dict[str, Any] = {}
        for a, u in zip(spec.axes, row, strict=True):
            if a.values:
                point[a.name] = a.values[min(int(u * len(a.values)), len(a.values) - 1)]
            else:
                assert a.low is not None and a.high is not None
                v = a.low + float(u) * (a.high - a.low)
                point[a.name] = round(v) if a.integer else v
        out.append(point)
    return out


def point_request(base: RunRequest, axes: Sequence[Axis], values: dict[str, Any]) -> RunRequest:
    fields: dict[str, Any] = {}
    sets, costs = list(base.set), list(base.cost)
    for a in axes:
        v = values[a.name]
        for name, target in ((a.name, a.target), *a.tied):
            if target == "field":
                fields[name] = v
            elif target == "cost":
                costs.append((name, float(v)))
            else:
                sets.append((name, v))
    return base.replace(**fields, set=tuple(sets), cost=tuple(costs))


# ---- one point ------------------------------------------------------------------------


def run_point(req: RunRequest) -> dict[str, Any]:
    """The row of one point (never raises): feasibility first, then the simulation."""
    from spatialsim.design.parallel import shard
    from spatialsim.design.resources import check_fit
    from spatialsim.experiment.session import prepare, simulate_prepared

    t0 = time.perf_counter()
    row: dict[str, Any] = {"key": req.key, "feasible": False, "reason": "", "error": ""}
    try:
        prep = prepare(req)
        card = shard(prep.design, req.tp)
        reports = check_fit(card, prep.platform)
    except UserError as exc:
        row["reason"] = str(exc)
        row["wall_s"] = time.perf_counter() - t0
        return row
    except Exception as exc:  # a bug: recorded, never lost
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["wall_s"] = time.perf_counter() - t0
        return row
    for r in ("dsp", "lut", "ff", "bram36", "uram"):
        row[r] = max(rep.total[r] for rep in reports)
    try:
        rep = simulate_prepared(req, prep)
    except DeadlockError as exc:
        row["reason"] = "deadlock: " + str(exc).splitlines()[0]
        row["wall_s"] = time.perf_counter() - t0
        return row
    except UserError as exc:
        row["reason"] = str(exc)
        row["wall_s"] = time.perf_counter() - t0
        return row
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["wall_s"] = time.perf_counter() - t0
        return row
    res = rep.result
    row["feasible"] = True
    row["ttft_ms"] = res.ttft_ms
    row["tpot_ms"] = res.tpot_ms
    row["tokens_per_s"] = 1e3 / res.tpot_ms if res.tpot_ms else None
    row["analytical_ttft_ms"] = rep.analytical.get("prefill_ms")
    row["analytical_tpot_ms"] = rep.analytical.get("decode_ms_per_token")
    energy = rep.energy
    row["energy_j_per_token"] = energy.decode_j_per_token if energy is not None else None
    bound, stall, share = _bound(res)
    row["bound_kernel"], row["bound_stall"], row["bound_stall_share"] = bound, stall, share
    row["wall_s"] = time.perf_counter() - t0
    bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:  # an overflow is never a feasible row with an empty cell
        row["feasible"] = False
        row["error"] = f"non-finite {', '.join(bad)}: " + ", ".join(f"{k}={row[k]}" for k in bad)
        for k in bad:
            row[k] = None
    return row


def _bound(res: Any) -> tuple[str, str, float | None]:
    """The kernel with the most busy cycles over the run, and its largest stall."""
    if not res.kernels:
        return "", "", None
    name = max(res.kernels, key=lambda k: res.kernels[k].active_cycles * res.kernels[k].busy)
    stalls = [(c, s, on) for (k, s, on), c in res.waits.items() if k == name and c > 0]
    if not stalls:
        return name, "", 0.0
    cycles, state, on = max(stalls)
    active = res.kernels[name].active_cycles
    return name, f"{state} on {on}", cycles / active if active else None


# ---- the table ----------------------------------------------------------------------------


class ResultsTable:
    """``DIR/results.csv``, appended row by row by one writer; rows once written are never
    rewritten. ``DIR/sweep.json`` records the spec, so a restart with another spec is
    refused rather than mixed in. The folder is locked while its writer lives
    (``DIR/.lock``, an advisory lock the system releases when the writer dies): a second
    sweep into it is refused, naming the first."""

    def __init__(self, folder: Path, spec: SweepSpec) -> None:
        self.folder = folder
        self.path = folder / "results.csv"
        self.columns = spec.columns
        if folder.exists() and not folder.is_dir():
            raise UserError(f"`out` {folder}: exists and is not a folder", field="out")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"`out` {folder}: cannot create it ({exc.strerror})") from None
        for name in ("results.csv", "sweep.json", "results.parquet", LOCK):
            held = folder / name
            if held.is_symlink() or (held.exists() and not held.is_file()):
                raise UserError(
                    f"`out` {folder}: {name} is not a regular file (a link, device or "
                    "folder); a sweep appends only to its own table",
                    field="out",
                )
        self._lock = _lock_folder(folder)
        try:
            self._check_spec(spec)
            self.done = self._existing()
            self._file = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115
            if self.path.stat().st_size == 0:
                self._write(self.columns)
        except BaseException:
            os.close(self._lock)
            raise

    def _check_spec(self, spec: SweepSpec) -> None:
        meta = self.folder / "sweep.json"
        base = spec.base
        what = {"model": base.model or defaults.MODEL, "design": base.design,
                "platform": base.platform}  # fmt: skip
        doc = {"spec": spec.digest, "columns": self.columns, "base": what}
        if not meta.exists():
            atomic_write_text(meta, json.dumps(doc, indent=1))
            return
        old = parse_json(read_text(meta, "sweep record"), str(meta))
        if not isinstance(old, dict) or not isinstance(old.get("spec"), str):
            raise UserError(
                f"{meta} is damaged (not a sweep record with a spec digest); remove the "
                "folder or give a new `out`",
                field="out",
            )
        if old["spec"] != spec.digest:
            raise UserError(
                f"{self.folder} holds the results of another sweep spec; give a new `out` "
                "folder (or remove this one) to run this spec",
                field="out",
            )

    def _existing(self) -> set[str]:
        """Keys of complete rows; a last line cut short by a kill is dropped."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        header, rows, cut = line_table(self.path, "sweep results table")
        if cut:
            with open(self.path, "r+b") as f:
                f.truncate(self.path.stat().st_size - cut)
        if header != self.columns:
            raise UserError(
                f"{self.path}: its columns are not this sweep's; give a new `out` folder",
                field="out",
            )
        return {cells[0] for _, cells in rows}

    def _write(self, values: list[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        self._file.write(buf.getvalue())
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, point: dict[str, Any], row: dict[str, Any]) -> None:
        values = {**point, **row}
        self._write(
            ["" if values.get(c) is None else _cell(values.get(c, "")) for c in self.columns]
        )
        self.done.add(row["key"])

    def close(self) -> None:
        self._file.close()
        os.close(self._lock)


LOCK = ".lock"


def _lock_folder(folder: Path) -> int:
    """Hold the folder's advisory lock (its descriptor), or refuse naming the holder."""
    import fcntl
    import socket

    path = folder / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise UserError(f"`out` {folder}: cannot lock it ({exc.strerror})", field="out") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise UserError(
            f"`out` {folder} is being written by another sweep ({holder}); wait for it to "
            "finish or give another `out` folder",
            field="out",
        ) from None
    os.ftruncate(fd, 0)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
    return fd


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):  # one record per line, whatever a message holds
        return "".join(c if c.isprintable() else " " for c in v)
    return v


# ---- execution ----------------------------------------------------------------------------


def execute(requests: Sequence[RunRequest], executor: Executor) -> Iterator[dict[str, Any]]:
    """Rows of ``requests`` in completion order, run by ``executor``: workers receive
    requests and return rows; nothing else crosses."""
    for _, row in executor.map(run_point, requests):
        yield row


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    computed: int
    table: Path
    parquet: Path | None = None  # None: pyarrow (the dse extra) is not installed


def sweep(
    spec: SweepSpec | str | Path,
    out: str | Path,
    workers: int | None = defaults.WORKERS,
    scheduler: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> SweepOutcome:
    """Run every point of ``spec`` (a parsed spec or a spec file) not yet in
    ``out``/results.csv and append its row."""
    if not isinstance(spec, SweepSpec):
        spec = load_spec(as_path(spec, "spec"))
    check_progress(progress)
    out = as_path(out, "out")
    check_inputs(spec)
    executor = Executor(workers, scheduler)
    points = spec.requests()
    table = ResultsTable(out, spec)
    try:
        todo = [(v, r) for v, r in points if r.key not in table.done]
        by_key = {r.key: v for v, r in todo}
        skipped = len(points) - len(todo)
        t0, done = time.perf_counter(), 0
        for row in execute([r for _, r in todo], executor):
            if row["key"] in table.done:
                continue  # two points with the same request: one row
            table.add(by_key[row["key"]], row)
            done += 1
            if progress is not None:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                left = (len(todo) - done) / rate
                progress(skipped + done, len(points), f"sweep {rate:.1f} pts/s, {left:.0f} s left")
    finally:
        executor.close()
        table.close()
    parquet = write_parquet(table.path, spec) if available("pyarrow") else None
    return SweepOutcome(len(points), skipped, done, table.path, parquet)


def check_inputs(spec: SweepSpec) -> None:
    """Every model, platform, design and calibration an axis or the base names, read and
    checked once before the first point runs: a bad file is refused up front (naming the
    axis), not recorded as an error in every row that uses it."""
    from spatialsim.calibration.profile import load as load_profile
    from spatialsim.design.fileio import load_design
    from spatialsim.design.templates import DESIGNS
    from spatialsim.hardware.platform import get_platform
    from spatialsim.workload.models import get_model

    def design(name: str) -> object:
        return None if name in DESIGNS else load_design(Path(name))

    loaders: dict[str, Callable[[str], object]] = {
        "model": get_model,
        "platform": get_platform,
        "design": design,
        "calibration": load_profile,
    }
    named: dict[str, set[Any]] = {k: {getattr(spec.base, k)} for k in loaders}
    for a in spec.axes:
        for name, target in ((a.name, a.target), *a.tied):
            if target == "field" and name in loaders:
                named[name].update(a.values)
    for field_name, values in named.items():
        for value in sorted(v for v in values if isinstance(v, str)):
            try:
                loaders[field_name](value)
            except UserError as exc:
                raise UserError(f"axes.{field_name} = {value!r}: {exc}", field="axes") from None


FLOAT_COLUMNS = frozenset(METRICS) - {"feasible", "reason", "error", "bound_kernel", "bound_stall"}


def _axis_type(axis: Axis) -> str:
    """``int``, ``float`` or ``str``: what an axis' cells hold."""
    values = axis.values
    if not values:  # a sampled interval
        return "int" if axis.integer else "float"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return "str"


def table_dicts(table: Path) -> list[dict[str, str]]:
    """The complete rows of a results table as column -> cell."""
    header, rows, _ = line_table(table, "sweep results table")
    return [dict(zip(header, cells, strict=True)) for _, cells in rows]


def write_parquet(table: Path, spec: SweepSpec) -> Path:
    """``results.parquet`` beside ``table`` (results.csv): the same rows with typed columns
    (numbers as numbers, feasibility as a boolean, empty cells as nulls), rewritten whole
    from the CSV each time a sweep run ends."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialsim.fileutil import atomic_write_with

    rows = table_dicts(table)
    types = {a.name: _axis_type(a) for a in spec.axes}
    columns: dict[str, Any] = {}
    for name in spec.columns:
        cells = [r.get(name) or None for r in rows]
        kind = types.get(name, "float" if name in FLOAT_COLUMNS else "str")
        if name == "feasible":
            columns[name] = pa.array([c == "true" for c in cells], pa.bool_())
        elif kind == "int":
            columns[name] = pa.array([None if c is None else int(c) for c in cells], pa.int64())
        elif kind == "float":
            columns[name] = pa.array([None if c is None else float(c) for c in cells], pa.float64())
        else:
            columns[name] = pa.array(cells, pa.string())
    out = table.with_name("results.parquet")
    atomic_write_with(out, lambda tmp: pq.write_table(pa.table(columns), tmp))
    return out
