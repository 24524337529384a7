"""GPU runs in a board CSV: the batch-1 GPU model's parameters fitted like the FPGA's.

A row whose ``platform`` is a GPU (a built-in name or a GPU ``.toml`` file) is a GPU run:
``design`` is the execution mode (``eager`` or ``graphs``, optionally ``:int8`` for int8
weights, e.g. ``graphs:int8``), ``layers`` the layers it ran (the model's, for a whole
model), ``clock_mhz`` the GPU's clock (recorded, not used). Its ``ttft_ms`` and ``tpot_ms``
are predicted by :func:`spatialsim.analytical.gpu.run` from the ``gpu.*`` parameters, so
:func:`spatialsim.calibration.fit.fit` fits them with the same posterior, discrepancy and
leave-one-out errors as a board's. The energy fractions are not fitted (latency says
nothing about power).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spatialsim.calibration.fit import Observation, Values
from spatialsim.errors import UserError

# what a GPU run's latencies depend on (the analytical model's GpuParams fields)
GPU_CANDIDATES = (
    "gpu.bandwidth_efficiency",
    "gpu.compute_efficiency",
    "gpu.eager_launch_us",
    "gpu.graph_launch_us",
    "gpu.eager_step_us",
    "gpu.graph_step_us",
)


def is_gpu_platform(name: str) -> bool:
    """Whether a board row's platform names a GPU (built in, or a GPU file)."""
    from spatialsim.hardware.gpu import BUILTIN_GPUS

    if name in BUILTIN_GPUS:
        return True
    if name.endswith(".toml"):
        try:
            from spatialsim.hardware.gpu import get_gpu

            get_gpu(name)
        except UserError:
            return False
        return True
    return False


def gpu_defaults() -> Values:
    """The gpu.* parameters at the model's documented defaults."""
    from dataclasses import asdict

    from spatialsim.analytical.gpu import GpuParams

    return {f"gpu.{k}": float(v) for k, v in asdict(GpuParams()).items() if f"gpu.{k}" in
            GPU_CANDIDATES}  # fmt: skip


def _mode(run: Any) -> tuple[str, str]:
    from spatialsim.analytical.gpu import MODES, PRECISIONS

    mode, _, precision = run.design.partition(":")
    precision = precision or "fp16"
    if mode not in MODES or precision not in PRECISIONS:
        raise UserError(
            f"{run.file}: row {run.row}: design = {run.design!r}: a GPU run's design is its "
            f"execution mode, one of {', '.join(MODES)}, optionally with :precision "
            f"({', '.join(PRECISIONS)}), e.g. graphs:int8",
            field="board",
        )
    return mode, precision


def gpu_observations(runs: Sequence[Any], noise: float) -> list[Observation]:
    """One observation per measured TTFT and TPOT of each GPU run."""
    from spatialsim.hardware.gpu import get_gpu
    from spatialsim.workload.models import get_model

    out: list[Observation] = []
    for r in runs:
        if r.tp * r.pp > 1:
            raise UserError(f"{r.file}: row {r.row}: the GPU model is one GPU (tp = pp = 1)")
        mode, precision = _mode(r)
        model, gpu = get_model(r.model), get_gpu(r.platform)
        if r.layers > model.layers:
            raise UserError(
                f"{r.file}: row {r.row}: layers = {r.layers}, but {model.name} has {model.layers}",
                field="board",
            )

        predict = _Predictor(model, gpu, r.prompt_len, r.gen_len, mode, precision, r.layers)
        if r.ttft_ms is not None:
            out.append(Observation(f"{r.label} ttft", "board", r.ttft_ms, "ms",
                                   predict.ttft, noise))  # fmt: skip
        if r.tpot_ms is not None:
            out.append(Observation(f"{r.label} tpot", "board", r.tpot_ms, "ms",
                                   predict.tpot, noise))  # fmt: skip
    return out


@dataclass(frozen=True)
class _Predictor:
    """One GPU run's latencies at given gpu.* values."""

    model: Any
    gpu: Any
    prompt_len: int
    gen_len: int
    mode: str
    precision: str
    layers: int

    def _run(self, values: Values) -> Any:
        from spatialsim.analytical.gpu import gpu_params
        from spatialsim.analytical.gpu import run as gpu_run

        params = gpu_params({k[4:]: v for k, v in values.items() if k.startswith("gpu.")})
        return gpu_run(self.model, self.gpu, self.prompt_len, self.gen_len, self.mode,
                       self.precision, params, self.layers)  # fmt: skip

    def ttft(self, values: Values) -> float:
        return float(self._run(values).ttft_ms)

    def tpot(self, values: Values) -> float:
        return float(self._run(values).tpot_ms)
