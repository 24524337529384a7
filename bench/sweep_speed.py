"""Sweep throughput: points per second in one process and on 1, 2 and 4 local Dask
workers, and the projected time for 10,000 points.

The points are GPT-2-medium on chen2024-w8a8 (prompt 128, 8 generated) over FFN1 and
Q/K/V array widths and the clock, as in issue 14's 24-point sweep, repeated with
different prompt lengths to reach ``--points``. Worker counts above the machine's cores
are skipped.

    python bench/sweep_speed.py [--points 48]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from spatialsim.experiment.sweep import parse_spec, sweep

SPEC = """
[base]
model = "gpt2-medium"
design = "chen2024-w8a8"
gen_len = 8

[axes]
"kernel.ffn1.cols" = [8, 16, 32, 64]
"kernel.q_proj.cols" = [8, 16]
clock_mhz = [200, 250, 300]
prompt_len = {prompts}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=48)
    args = ap.parse_args()
    per = 24
    prompts = [128 + 8 * i for i in range(max(1, args.points // per))]
    spec = parse_spec(SPEC.format(prompts=prompts), "bench")
    n = len(spec.values())
    cores = os.cpu_count() or 1
    print(f"{n} points (GPT-2-medium, chen2024-w8a8), {cores} cores")
    print(f"{'executor':<22}{'wall s':>9}{'points/s':>10}{'10,000 points':>15}")
    for label, workers in (("in process", 1), ("1 Dask worker", -1), ("2 Dask workers", 2),
                           ("4 Dask workers", 4)):  # fmt: skip
        if workers > cores:
            print(f"{label:<22}{'skipped: more workers than cores':>34}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            if workers == -1:
                from distributed import LocalCluster

                with LocalCluster(n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as c:  # fmt: skip
                    sweep(spec, Path(tmp) / "out", scheduler=c.scheduler_address)
            else:
                sweep(spec, Path(tmp) / "out", workers=workers)
            wall = time.perf_counter() - t0
        rate = n / wall
        print(f"{label:<22}{wall:>9.2f}{rate:>10.1f}{10_000 / rate / 60:>12.1f} min")


if __name__ == "__main__":
    main()
