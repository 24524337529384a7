"""Multi-objective design search: NSGA-II (Optuna) over a design's array sizes, every
trial a full simulation on the sweep's executor, minimising TTFT, TPOT and resources (DSP,
LUT, BRAM, URAM by default; any subset of :data:`OBJECTIVE_CHOICES`) under the platform's
resource limits; the Pareto front and the paper's balanced design side by side.

The search space is read from the design: kernels with a ``cols`` parameter (systolic
linears and attention arrays) in three groups that the paper balances together (Eqs.
10-12): the Q/K/V/output projections, the attention arrays and the FFN linears. Each
group's width takes a power of two from 1 to 128 columns. A trial that does not fit
(resources per SLR and device, ports, clock) or deadlocks is infeasible: Optuna's
constraint keeps it off the front. Trials run in batches on the same executor as
:func:`spatialsim.experiment.sweep.execute` (in process, local Dask workers or a
scheduler), so a batch of independent trials runs in parallel.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialsim import defaults
from spatialsim.errors import UserError
from spatialsim.executor import Executor
from spatialsim.experiment.request import RunRequest
from spatialsim.experiment.sweep import execute, run_point
from spatialsim.limits import MAX_SEED, check_count, check_progress
from spatialsim.optional import require

GROUPS = {
    "qkvo_cols": ("q_proj", "k_proj", "v_proj", "out_proj"),
    "attn_cols": ("qk_matmul", "sv_matmul"),
    "ffn_cols": ("ffn1", "ffn2"),
}
WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)
MAX_TRIALS = 10_000  # also at most the search space's size, checked once it is known
# what can be minimised (columns of a sweep row), and the default: latency and every
# resource the issue names (DSP, LUT, BRAM, URAM), the peak of any bitstream
OBJECTIVE_CHOICES = ("ttft_ms", "tpot_ms", "dsp", "lut", "ff", "bram36", "uram")
OBJECTIVES = ("ttft_ms", "tpot_ms", "dsp", "lut", "bram36", "uram")
INFEASIBLE = 1e12  # objective value of a trial that does not fit (kept off the front)


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, int]
    row: dict[str, Any]
    request: RunRequest
    minimise: tuple[str, ...] = OBJECTIVES

    @property
    def feasible(self) -> bool:
        return bool(self.row.get("feasible"))

    def objectives(self) -> tuple[float, ...]:
        if not self.feasible:
            return (INFEASIBLE,) * len(self.minimise)
        return tuple(float(self.row.get(o) or 0.0) for o in self.minimise)


def check_objectives(objectives: Any) -> tuple[str, ...]:
    """``objectives`` as a tuple of known, distinct names (a UserError names the bad one):
    a comma-separated string or a sequence of names."""
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",") if o.strip()]
    if not isinstance(objectives, (list, tuple)) or not all(isinstance(o, str) for o in objectives):
        raise UserError(
            f"objectives must be names of {', '.join(OBJECTIVE_CHOICES)} (a list or a "
            f"comma-separated string), got {objectives!r}",
            field="objectives",
        )
    out = tuple(objectives)
    if not out:
        raise UserError(
            f"objectives: give at least one of {', '.join(OBJECTIVE_CHOICES)}",
            field="objectives",
        )
    for o in out:
        if o not in OBJECTIVE_CHOICES:
            raise UserError(
                f"unknown objective {o!r}; valid: {', '.join(OBJECTIVE_CHOICES)}",
                field="objectives",
            )
    if len(set(out)) != len(out):
        raise UserError(f"objectives: {', '.join(out)} names one twice", field="objectives")
    return out


def space(req: RunRequest) -> dict[str, tuple[str, ...]]:
    """The groups of ``req``'s design that have array widths to search."""
    from spatialsim.experiment.session import resolve_design

    _, _, design = resolve_design(req, req.seq_len)
    present = {n for g in design.bitstreams.values() for n in g.nodes if "cols" in g.nodes[n]}
    out = {k: tuple(n for n in names if n in present) for k, names in GROUPS.items()}
    out = {k: v for k, v in out.items() if v}
    if not out:
        raise UserError(
            f"design {design.name} has no arrays with a 'cols' parameter to search",
            field="design",
        )
    return out


def trial_request(
    base: RunRequest, groups: dict[str, tuple[str, ...]], params: dict[str, int]
) -> RunRequest:
    sets = list(base.set)
    for group, width in params.items():
        sets += [(f"kernel.{k}.cols", width) for k in groups[group]]
    return base.replace(set=tuple(sets))


def pareto(trials: list[Trial]) -> list[Trial]:
    """The feasible trials no other feasible trial dominates (lower or equal in every
    objective, lower in one), one per distinct objective vector."""
    ok = [t for t in trials if t.feasible]
    front, seen = [], set()
    for t in ok:
        a = t.objectives()
        dominated = any(
            all(x <= y for x, y in zip(o.objectives(), a, strict=True)) and o.objectives() != a
            for o in ok
        )
        if not dominated and a not in seen:
            seen.add(a)
            front.append(t)
    return sorted(front, key=lambda t: t.objectives())


@dataclass(frozen=True)
class OptimizeReport:
    trials: list[Trial]
    front: list[Trial]
    groups: dict[str, tuple[str, ...]]
    reference: Trial
    balanced: dict[str, Any]
    objectives: tuple[str, ...] = OBJECTIVES


def optimize(
    req: RunRequest,
    trials: int = 48,
    seed: int = 0,
    workers: int | None = defaults.WORKERS,
    scheduler: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    objectives: Any = OBJECTIVES,
) -> OptimizeReport:
    """NSGA-II over the array widths of ``req``'s design (see the module docstring),
    minimising ``objectives`` (names of :data:`OBJECTIVE_CHOICES`)."""
    optuna: Any = require("optuna", "optimize")

    check_count(trials, "trials", 1, MAX_TRIALS)
    check_progress(progress)
    check_count(seed, "seed", 0, MAX_SEED)
    minimise = check_objectives(objectives)
    groups = space(req)
    size = len(WIDTHS) ** len(groups)
    check_count(
        trials, "trials", 1, size,
        f"the search space has {size:,} designs: {len(WIDTHS)} widths for each of "
        f"{len(groups)} groups ({', '.join(groups)})",
    )  # fmt: skip
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=max(8, min(24, trials // 3)))
    study = optuna.create_study(directions=["minimize"] * len(minimise), sampler=sampler)
    for start in _neighbours(req, groups)[:trials]:
        study.enqueue_trial(start)
    done: list[Trial] = []
    # workers None (auto) asks in the batches one process does: a seeded search then
    # proposes the same trials on any machine
    batch = max(4, 2 * (workers or 1))
    with Executor(workers, scheduler) as executor:
        _search(study, req, groups, trials, batch, executor, done, progress, minimise)
    reference = Trial(-1, {}, run_point(req), req, minimise)
    balanced = _balanced(req, groups)
    return OptimizeReport(done, pareto(done), groups, reference, balanced, minimise)


def _search(
    study: Any,
    req: RunRequest,
    groups: dict[str, tuple[str, ...]],
    trials: int,
    batch: int,
    executor: Executor,
    done: list[Trial],
    progress: Callable[[int, int, str], None] | None,
    minimise: tuple[str, ...],
) -> None:
    """Ask, simulate and tell in batches of ``batch`` trials until ``trials`` are done."""
    while len(done) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(done)))]
        params = [{g: t.suggest_categorical(g, WIDTHS) for g in groups} for t in asked]
        reqs = [trial_request(req, groups, p) for p in params]
        rows = {r["key"]: r for r in execute(reqs, executor)}
        for t, p, r in zip(asked, params, reqs, strict=True):
            trial = Trial(t.number, p, rows[r.key], r, minimise)
            t.set_constraint("fits", 0.0 if trial.feasible else 1.0)  # > 0: infeasible
            study.tell(t, list(trial.objectives()))
            done.append(trial)
        if progress is not None:
            progress(len(done), trials, "optimize")


def _neighbours(req: RunRequest, groups: dict[str, tuple[str, ...]]) -> list[dict[str, int]]:
    """Where the search starts: the design as built, each group one width up or down,
    and each trade of one group's width for another's (the rebalancing Eqs. 10-12 do)."""
    from spatialsim.experiment.session import resolve_design

    _, _, design = resolve_design(req, req.seq_len)
    built = {}
    for g, names in groups.items():
        for graph in design.bitstreams.values():
            if names[0] in graph and "cols" in graph.nodes[names[0]]:  # decode GEMVs have none
                width = int(graph.nodes[names[0]]["cols"])
                built[g] = min(WIDTHS, key=lambda w: abs(w - width))
    out = [built]

    def step(w: int, up: bool) -> int | None:
        i = WIDTHS.index(w) + (1 if up else -1)
        return WIDTHS[i] if 0 <= i < len(WIDTHS) else None

    for g in built:
        for up in (True, False):
            w = step(built[g], up)
            if w is not None:
                out.append({**built, g: w})
    for a in built:
        for b in built:
            wa, wb = step(built[a], False), step(built[b], True)
            if a != b and wa is not None and wb is not None:
                out.append({**built, a: wa, b: wb})
    return out


def _balanced(req: RunRequest, groups: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The paper's work-balanced design (Eqs. 10-12) mapped onto the arrays and
    simulated: what the closed form predicts, and what the simulation says of it."""
    from spatialsim.analytical.balance import balance
    from spatialsim.experiment.session import prepare

    prep = prepare(req)
    res = balance(prep.model, prep.platform, req.prompt_len, prep.clock_mhz)
    pack = 2 * 8  # rows (tokens per pack) x MACs per DSP of the systolic arrays
    rate = {"qkvo_cols": res.rates["k"], "attn_cols": res.rates["a1"], "ffn_cols": res.rates["f1"]}
    params = {g: max(1, min(256, round(rate[g] / pack))) for g in groups}
    r = trial_request(req, groups, params)
    row = run_point(r)
    return {
        "params": params,
        "eq11_prefill_ms": res.prefill_seconds * 1e3,
        "row": row,
    }


def table_csv(trials: list[Trial], groups: dict[str, tuple[str, ...]]) -> str:
    cols = ["trial", *groups, "feasible", "reason", "ttft_ms", "tpot_ms", "dsp", "lut", "ff",
            "bram36", "uram", "bound_kernel", "bound_stall", "key"]  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for t in trials:
        values = {"trial": t.number, **t.params, **t.row}
        out = []
        for c in cols:
            v = values.get(c)
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, float) and not math.isfinite(v):
                v = ""
            out.append("" if v is None else v)
        w.writerow(out)
    return buf.getvalue()


def save_front(report: OptimizeReport, folder: Path) -> list[Path]:
    """``pareto.csv``, ``trials.csv`` and one design file per Pareto point."""
    from spatialsim.design.fileio import dumps_design
    from spatialsim.experiment.session import resolve_design
    from spatialsim.fileutil import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("pareto.csv", report.front), ("trials.csv", report.trials)):
        atomic_write_text(folder / name, table_csv(rows, report.groups))
        written.append(folder / name)
    for i, t in enumerate(report.front):
        _, _, design = resolve_design(t.request, t.request.seq_len)
        path = folder / f"pareto_{i}.toml"
        atomic_write_text(path, dumps_design(design))
        written.append(path)
    return written
