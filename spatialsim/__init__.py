"""spatialsim: simulate and model FPGA spatial (dataflow) accelerators for LLM inference.

The public API (docs/api.md)::

    import spatialsim as ss
    rep = ss.simulate(model="gpt2-medium", design="chen2024-w8a8", prompt_len=64, gen_len=8)
    rep.ttft_ms, rep.tpot_ms, rep.kernels["ffn1"].busy, rep.to_json()

``RunRequest`` is the frozen description of one experiment; ``simulate``, ``analyze``,
``kernels`` and ``replay`` run it. The package is split by concern below that layer:
``workload`` (model shapes and operator lists), ``hardware`` (platforms), ``design``
(accelerator graphs), ``costmodel``, ``engine``, ``metrics``, ``analytical`` (the closed-form
model of Chen et al. 2024), ``calibration``, ``serving``, ``report`` and ``cli``. The API
names are imported on first use, so ``import spatialsim`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# the one place the version is written: pyproject.toml reads it (setuptools dynamic), and
# `spatialsim --version` prints it without importlib.metadata's 28 ms
__version__ = "0.1.0"

_API = {
    "RunRequest": "spatialsim.experiment.request",
    "simulate": "spatialsim.experiment.session",
    "analyze": "spatialsim.experiment.session",
    "kernels": "spatialsim.experiment.session",
    "replay": "spatialsim.experiment.session",
    "RunReport": "spatialsim.experiment.reports",
    "AnalysisReport": "spatialsim.experiment.reports",
    "KernelsReport": "spatialsim.experiment.reports",
    "ReplayReport": "spatialsim.experiment.reports",
    "UserError": "spatialsim.errors",
    "DeadlockError": "spatialsim.errors",
    "load_trace": "spatialsim.workload.traces",
    "calibrate": "spatialsim.calibration.job",
    "compare": "spatialsim.experiment.compare",
    "sweep": "spatialsim.experiment.sweep",
    "optimize": "spatialsim.experiment.optimize",
    "parse_spec": "spatialsim.experiment.sweep",
    "load_spec": "spatialsim.experiment.sweep",
    "Calibration": "spatialsim.calibration.job",
}

__all__ = [
    "AnalysisReport",
    "Calibration",
    "DeadlockError",
    "KernelsReport",
    "ReplayReport",
    "RunReport",
    "RunRequest",
    "UserError",
    "__version__",
    "analyze",
    "calibrate",
    "compare",
    "kernels",
    "load_spec",
    "load_trace",
    "optimize",
    "parse_spec",
    "replay",
    "simulate",
    "sweep",
]

if TYPE_CHECKING:
    from spatialsim.calibration.job import Calibration, calibrate
    from spatialsim.errors import DeadlockError, UserError
    from spatialsim.experiment.compare import compare
    from spatialsim.experiment.optimize import optimize
    from spatialsim.experiment.reports import (
        AnalysisReport,
        KernelsReport,
        ReplayReport,
        RunReport,
    )
    from spatialsim.experiment.request import RunRequest
    from spatialsim.experiment.session import analyze, kernels, replay, simulate
    from spatialsim.experiment.sweep import load_spec, parse_spec, sweep
    from spatialsim.workload.traces import load_trace


def __getattr__(name: str) -> Any:
    """Import an API name from its module the first time it is used."""
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'spatialsim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
