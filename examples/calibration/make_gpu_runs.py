"""Make ``gpu_runs.csv``: synthetic batch-1 runs on an A100 80 GB for docs/gpu.md.

The "GPU" is spatialsim's batch-1 GPU model with parameters you are not told in the docs
(printed by this script), plus 1 % seeded measurement noise: so the docs can show that
``calibrate --board`` recovers them. These are not measurements of a real A100. Run from
the repository root:

    python examples/calibration/make_gpu_runs.py

It rewrites ``examples/calibration/gpu_runs.csv`` with the same bytes every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TRUTH = {  # what this "GPU" does differently from the model's defaults
    "bandwidth_efficiency": 0.8,
    "compute_efficiency": 0.3,
    "eager_launch_us": 7.0,
    "graph_launch_us": 3.0,
}
RUNS = (  # model, mode, prompt, generated
    ("gpt2", "eager", 32, 8),
    ("gpt2", "graphs", 32, 8),
    ("gpt2-medium", "eager", 128, 8),
    ("gpt2-medium", "graphs", 128, 8),
    ("gpt2-xl", "eager", 512, 8),
    ("gpt2-xl", "graphs", 512, 8),
    ("llama2-7b", "eager", 128, 8),
    ("llama2-7b", "graphs", 128, 8),
)
NOISE = 0.01
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"


def make() -> str:
    from spatialsim.analytical.gpu import gpu_params, run
    from spatialsim.hardware.gpu import get_gpu
    from spatialsim.workload.models import get_model

    rng = np.random.default_rng(2024)
    gpu, params = get_gpu("a100-80gb"), gpu_params(TRUTH)
    lines = [HEADER]
    for name, mode, prompt, gen in RUNS:
        model = get_model(name)
        r = run(model, gpu, prompt, gen, mode, "fp16", params)
        ttft, tpot = (v * (1 + NOISE * rng.standard_normal()) for v in (r.ttft_ms, r.tpot_ms))
        assert r.tpot_ms is not None
        lines.append(
            f"{name},{mode},a100-80gb,{model.layers},{prompt},{gen},1410,{ttft:.4f},{tpot:.4f}\n"
        )
    return "".join(lines)


if __name__ == "__main__":
    out = Path(__file__).with_name("gpu_runs.csv")
    out.write_text(make(), encoding="utf-8")
    print(f"wrote {out}; the hidden parameters: {TRUTH}")
