"""Spatial against temporal: the same model and workload simulated on a spatial design and
a temporal overlay, on one or more card counts, side by side.

The paper's comparative question (Chen et al. 2024, against DFX on the U280): how much
faster is a spatial design in prefill and in decode, at what resources and energy. Every
row is a full simulation (:func:`spatialsim.experiment.session.simulate`), so the
comparison shows what the simulator says, whatever that is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsim import defaults
from spatialsim.design.parallel import shard
from spatialsim.design.resources import estimate as resource_estimate
from spatialsim.errors import UserError
from spatialsim.experiment.reports import RunReport
from spatialsim.experiment.request import RunRequest, name_value_pairs, request
from spatialsim.experiment.session import Progress, prepare, simulate
from spatialsim.limits import check_progress

if TYPE_CHECKING:
    from spatialsim.analytical.gpu import GpuRun

DEFAULT_DESIGNS = (defaults.DESIGN, defaults.TEMPORAL)
MAX_ROWS = 16


@dataclass(frozen=True)
class CompareRow:
    design: str
    cards: int
    report: RunReport
    resources: dict[str, float]  # per card, the largest bitstream

    def to_json(self) -> dict[str, Any]:
        r = self.report.result
        doc = self.report.to_json(timing=False)
        energy = doc["energy"]
        tpot = r.tpot_ms
        total_ms = r.ttft_ms + sum(r.per_token_ms)
        return {
            "design": self.design,
            "cards": self.cards,
            "ttft_ms": r.ttft_ms,
            "tpot_ms": tpot,
            "decode_tokens_per_s": 1e3 / tpot if tpot else None,
            "end_to_end_tokens_per_s": r.gen_len / total_ms * 1e3 if r.gen_len else None,
            "resources_per_card": self.resources,
            "energy_j": energy["total_j"],
            "prefill_j": energy["prefill_j"],
            "decode_j_per_token": energy["decode_j_per_token"],
            "average_w": energy["average_w"],
        }


@dataclass(frozen=True)
class CompareReport:
    """Every (design, cards) row and the speedups of the first design over the others."""

    model: str
    platform: str
    prompt_len: int
    gen_len: int
    rows: tuple[CompareRow, ...]
    gpu: GpuRun | None = None  # the GPU baseline (spatialsim/analytical/gpu.py), if asked
    gpu_calibration: str | None = None  # the profile its parameters were fitted in, if any

    def gpu_row(self) -> dict[str, Any] | None:
        """The GPU baseline as a row of the table (one GPU; no FPGA resources)."""
        if self.gpu is None:
            return None
        g = self.gpu.to_json()
        tpot = g["tpot_ms"]
        total_ms = g["ttft_ms"] + sum(g["per_token_ms"])
        return {
            "design": f"{g['gpu']} ({g['mode']}, {g['precision']})",
            "cards": 1,
            "ttft_ms": g["ttft_ms"],
            "tpot_ms": tpot,
            "decode_tokens_per_s": 1e3 / tpot if tpot else None,
            "end_to_end_tokens_per_s": self.gen_len / total_ms * 1e3 if self.gen_len else None,
            "resources_per_card": None,
            "energy_j": g["energy_j"],
            "prefill_j": g["prefill_j"],
            "decode_j_per_token": g["decode_j_per_token"],
            "average_w": g["average_w"],
            "gpu": {**g, "calibration": self.gpu_calibration},
        }

    def speedups(self) -> list[dict[str, Any]]:
        """For each card count: the first design's TTFT and TPOT gains over each other."""
        out = []
        base = self.rows[0].design
        for row in self.rows:
            if row.design == base:
                continue
            ref = next((r for r in self.rows if r.design == base and r.cards == row.cards), None)
            if ref is None:
                continue
            a, b = ref.report.result, row.report.result
            out.append(
                {
                    "cards": row.cards,
                    "spatial": base,
                    "versus": row.design,
                    "prefill_speedup": b.ttft_ms / a.ttft_ms,
                    "decode_speedup": (b.tpot_ms / a.tpot_ms) if a.tpot_ms and b.tpot_ms else None,
                }
            )
        g = self.gpu_row()
        ref = next((r for r in self.rows if r.design == base and r.cards == 1), None)
        if g is not None and ref is not None:
            a = ref.report.result
            mine = ref.to_json()["decode_j_per_token"]
            out.append(
                {
                    "cards": 1,
                    "spatial": base,
                    "versus": g["design"],
                    "prefill_speedup": g["ttft_ms"] / a.ttft_ms,
                    "decode_speedup": g["tpot_ms"] / a.tpot_ms
                    if a.tpot_ms and g["tpot_ms"]
                    else None,
                    "energy_per_token_ratio": g["decode_j_per_token"] / mine
                    if g["decode_j_per_token"] and mine
                    else None,
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "platform": self.platform,
            "prompt_len": self.prompt_len,
            "gen_len": self.gen_len,
            "rows": [r.to_json() for r in self.rows]
            + ([g] if (g := self.gpu_row()) is not None else []),
            "speedups": self.speedups(),
        }


def compare(
    req: RunRequest | None = None,
    *,
    designs: tuple[str, ...] = DEFAULT_DESIGNS,
    cards: tuple[int, ...] = (1,),
    progress: Progress | None = None,
    gpu: str | None = None,
    gpu_mode: str = "graphs",
    gpu_precision: str = "fp16",
    gpu_params: object = None,
    gpu_calibration: str | None = None,
    **fields: Any,
) -> CompareReport:
    """Simulate ``req`` (or a request from ``fields``) with every design in ``designs`` on
    every card count in ``cards`` (tensor parallelism); the first design is the one the
    speedups are of. With ``gpu`` (a built-in GPU name or a GPU .toml file), the same
    layers on that GPU at batch 1 in ``gpu_mode`` (``eager`` or ``graphs``) join the table
    (spatialsim/analytical/gpu.py; ``gpu_params``, a mapping, ``NAME=VALUE`` strings or
    pairs, replaces its assumptions by name; ``gpu_calibration``, a profile that
    ``calibrate --board`` fitted to runs on that GPU, gives them first)."""
    base = request(req, **fields)
    if isinstance(designs, str):
        designs = (designs,)
    if not isinstance(designs, (list, tuple)) or not all(isinstance(d, str) for d in designs):
        raise UserError(
            f"designs must be a list of design names or files, got {designs!r:.60}",
            field="designs",
        )
    check_progress(progress)
    if isinstance(cards, int) and not isinstance(cards, bool):
        cards = (cards,)
    if not isinstance(cards, (list, tuple)):
        raise UserError(f"cards must be a list of card counts, got {cards!r:.60}", field="cards")
    if not designs or not cards:
        raise UserError("compare needs at least one design and one card count", field="designs")
    if len(designs) * len(cards) > MAX_ROWS:
        raise UserError(
            f"compare runs {len(designs)} designs x {len(cards)} card counts = "
            f"{len(designs) * len(cards)} simulations; at most {MAX_ROWS}",
            field="cards",
        )
    for n in cards:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserError(f"card counts must be positive integers, got {n!r}", field="cards")
    rows = []
    for design in designs:
        for n in cards:
            run_req = base.replace(design=design, tp=n, pp=1)
            report = simulate(run_req, progress=progress)
            prep = prepare(run_req)
            card = shard(prep.design, n)
            per_bitstream = [resource_estimate(card, b).total for b in card.bitstreams]
            resources = {r: max(t[r] for t in per_bitstream) for r in per_bitstream[0]}
            rows.append(CompareRow(design, n, report, resources))
    first = rows[0].report
    baseline = None
    if gpu is not None:
        from spatialsim.analytical.gpu import gpu_params as checked_params
        from spatialsim.analytical.gpu import run as gpu_run
        from spatialsim.hardware.gpu import get_gpu

        if not isinstance(gpu, str):
            raise UserError(f"gpu must be a GPU name or file, got {gpu!r:.60}", field="gpu")
        prep = prepare(base.replace(design=designs[0]))
        fitted = {} if gpu_calibration is None else gpu_profile_values(gpu_calibration, gpu)
        given = dict(name_value_pairs("gpu_params", gpu_params or ()))
        # the GPU computes the head when the first design does (its TTFT and TPOT hold it)
        baseline = gpu_run(
            prep.model, get_gpu(gpu), base.prompt_len, base.gen_len, gpu_mode, gpu_precision,
            checked_params({**fitted, **given}), base.layers, bool(prep.design.head),
        )  # fmt: skip
    return CompareReport(
        model=first.result.model,
        platform=first.result.platform,
        prompt_len=base.prompt_len,
        gen_len=base.gen_len,
        rows=tuple(rows),
        gpu=baseline,
        gpu_calibration=None if gpu_calibration is None else str(gpu_calibration),
    )


def gpu_profile_values(spec: str, gpu: str) -> dict[str, float]:
    """The gpu.* values of a calibration profile fitted to runs on ``gpu`` (names without
    the prefix, as the GPU model takes them)."""
    from spatialsim.calibration.profile import load

    if not isinstance(spec, (str, Path)):
        raise UserError(f"gpu_calibration must be a profile file, got {spec!r:.60}",
                        field="gpu_calibration")  # fmt: skip
    profile = load(str(spec))
    values = {k[4:]: v for k, v in profile.values.items() if k.startswith("gpu.")}
    if not values:
        raise UserError(
            f"calibration profile {spec} holds no GPU parameters (it was fitted to "
            f"{profile.platform}); a calibration of board runs on {gpu} writes one",
            field="gpu_calibration",
        )
    if profile.platform != gpu:
        raise UserError(
            f"calibration profile {spec} was fitted to runs on {profile.platform}, but the GPU "
            f"is {gpu}",
            field="gpu_calibration",
        )
    return values
