"""What the experiment functions return: frozen reports with their JSON form.

Each report keeps the request it answers and the typed results, and builds the exact JSON
document the matching command writes (``spatialsim run --json``, ``analyze --json``,
``kernels --json``, ``replay --json``), so a notebook and the command line see the same
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spatialsim.analytical.constraints import Check
from spatialsim.analytical.latency import PhaseEstimate
from spatialsim.experiment.energy import Energy
from spatialsim.experiment.request import RunRequest
from spatialsim.metrics.result import KernelStats, RunResult

if TYPE_CHECKING:
    from spatialsim.serving.latency import LatencyModel
    from spatialsim.serving.replay import ReplayResult


@dataclass(frozen=True)
class RunReport:
    """A simulation's result with the analytical comparison, the footprint warnings and,
    when the request named a calibration profile, the 95 % intervals."""

    request: RunRequest
    result: RunResult
    model_layers: int
    analytical: dict[str, Any]
    warnings: tuple[str, ...]
    calibration: dict[str, Any] | None = None
    energy: Energy | None = None

    @property
    def ttft_ms(self) -> float:
        """Time to first token: the prefill of all simulated layers, in ms."""
        return self.result.ttft_ms

    @property
    def tpot_ms(self) -> float | None:
        """Mean time per generated token in ms (None when nothing was generated)."""
        return self.result.tpot_ms

    @property
    def per_token_ms(self) -> list[float]:
        """Each generated token's latency in ms."""
        return self.result.per_token_ms

    @property
    def kernels(self) -> dict[str, KernelStats]:
        """Every kernel's whole-run state fractions (``.busy``, ``.starved``, ...)."""
        return self.result.kernels

    def to_json(self, timing: bool = True) -> dict[str, Any]:
        """The document ``spatialsim run --json`` writes (``timing=False``: ``wall_s`` is
        null, so identical runs give identical documents)."""
        doc = self.result.to_json()
        if not timing:
            doc["wall_s"] = None
        doc["model_layers"] = self.model_layers
        doc["analytical"] = self.analytical
        doc["warnings"] = list(self.warnings)
        if self.calibration is not None:
            doc["calibration"] = self.calibration
        if self.energy is not None:
            r = self.result
            seconds = (r.prefill_cycles + sum(r.token_cycles)) / r.clock_mhz / 1e6
            doc["energy"] = self.energy.to_json(seconds)
        return doc


@dataclass(frozen=True)
class AnalysisReport:
    """The analytical model's prefill and decode estimates and the design's constraints."""

    request: RunRequest
    model: str
    design: str
    platform: str
    clock_mhz: float
    layers: int
    tp: int
    pp: int
    prefill: PhaseEstimate
    decode: PhaseEstimate  # at the first decode context
    decode_ms_per_token: float  # averaged over the decode contexts
    contexts: tuple[int, int]
    checks: dict[str, list[Check]]

    @property
    def prefill_ms(self) -> float:
        return self.prefill.seconds * 1e3

    def to_json(self) -> dict[str, Any]:
        """The document ``spatialsim analyze --json`` writes."""
        req = self.request
        return {
            "model": self.model,
            "design": self.design,
            "platform": self.platform,
            "clock_mhz": self.clock_mhz,
            "layers": self.layers,
            "prompt_len": req.prompt_len,
            "gen_len": req.gen_len,
            "tp": self.tp,
            "pp": self.pp,
            "prefill_ms": self.prefill_ms,
            "decode_ms_per_token": self.decode_ms_per_token,
            "stages": self.prefill.stages,
            "sync_cycles": self.prefill.sync_cycles,
            "bound": self.prefill.bound,
            "prefill": self.prefill.to_json(),
            "decode": {
                **self.decode.to_json(),
                "ms": self.decode_ms_per_token,
                "contexts": list(self.contexts),
            },
            "constraints": {
                ph: {c.name: c.to_json() for c in cs} for ph, cs in self.checks.items()
            },
        }


@dataclass(frozen=True)
class KernelsReport:
    """Isolated cycle estimates of every kernel of one phase, loop by loop."""

    request: RunRequest
    model: str
    design: str
    phase: str
    seq_len: int
    clock_mhz: float
    kernels: dict[str, dict[str, Any]]
    hls_aliases: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The document ``spatialsim kernels --json`` writes."""
        return {
            "model": self.model,
            "design": self.design,
            "phase": self.phase,
            "seq_len": self.seq_len,
            "clock_mhz": self.clock_mhz,
            "kernels": self.kernels,
            "hls_aliases": self.hls_aliases,
        }


@dataclass(frozen=True)
class ReplayReport:
    """A trace served on the design: per-request latencies and their percentiles."""

    request: RunRequest
    trace: str
    model: str
    design: str
    platform: str
    clock_mhz: float
    latency: LatencyModel
    result: ReplayResult

    def to_json(self, include_requests: bool = False) -> dict[str, Any]:
        """The document ``spatialsim replay --json`` writes; with ``include_requests``,
        every request too (``replay --out``)."""
        lm = self.latency
        doc = {
            "model": self.model,
            "design": self.design,
            "platform": self.platform,
            "trace": self.trace,
            "clock_mhz": self.clock_mhz,
            **self.result.to_json(include_requests=False),
            "latency_table": {
                "simulations": lm.simulations,
                "prefill_packs": lm.prefill_packs.tolist(),
                "decode_contexts": lm.decode_ctx.tolist(),
            },
        }
        if include_requests:
            doc.update(self.result.to_json())
        return doc
