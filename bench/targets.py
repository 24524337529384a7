"""Issue 22's speed targets, each measured next to its bar, in one command.

- start-up: a default ``spatialsim run`` and ``spatialsim --version``, whole processes,
  against ``python -c "import simpy, numpy"``, as interleaved A/B pairs (median ratio);
- engine: the ``--every-layer`` GPT-2-medium 128 + 128 simulation's wall time against
  bare SimPy running the 1,124,762-event skeleton of issue 22 (bench/engine_efficiency.py)
  in the same process, median of 5 interleaved pairs;
- timelines: ``run --every-layer --out`` as a whole process against the same run without
  recording;
- sweeps: a 240-point sweep in one process (points per second) and on 2 local Dask
  workers (speed-up over one process).

    python bench/targets.py [--pairs 9] [--quick]

``--quick`` uses 8 + 8 tokens and 48 points (to check the script, not the targets).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SKELETON_EVENTS = 1_124_762  # the every-layer run's events when issue 22 was filed


def _bench(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def startup(pairs: int) -> tuple[float, float]:
    """Median ratios (run / base, --version / base) over interleaved pairs."""
    base = [sys.executable, "-c", "import simpy, numpy"]
    run = [sys.executable, "-m", "spatialsim.cli.main", "run"]
    version = [sys.executable, "-m", "spatialsim.cli.main", "--version"]
    _wall(run)  # warm the file cache
    runs, versions = [], []
    for _ in range(pairs):
        runs.append(_wall(run) / _wall(base))
        versions.append(_wall(version) / _wall(base))
    return statistics.median(runs), statistics.median(versions)


def engine(prompt: int, gen: int, pairs: int = 5) -> tuple[float, float, float]:
    """(engine simulation wall, bare SimPy wall for the skeleton, ratio): medians over
    interleaved pairs, as the machine's speed drifts between runs."""
    import spatialsim as ss

    eff = _bench("engine_efficiency")
    req = ss.RunRequest(model="gpt2-medium", prompt_len=prompt, gen_len=gen, every_layer=True)
    walls, bares, ratios = [], [], []
    for _ in range(pairs):
        res = ss.simulate(req).result
        kernels = len(res.phases["prefill"].kernels)
        launches = sum(p.launches for p in res.phases.values())
        events = SKELETON_EVENTS if (prompt, gen) == (128, 128) else res.events
        bare_wall, _ = eff.bare(events, launches, kernels)
        walls.append(res.wall_s)
        bares.append(bare_wall)
        ratios.append(res.wall_s / bare_wall)
    return statistics.median(walls), statistics.median(bares), statistics.median(ratios)


def timelines(prompt: int, gen: int) -> float:
    """``run --every-layer --out`` over the same run without recording, whole processes."""
    args = ["--every-layer", "--prompt-len", str(prompt), "--gen-len", str(gen)]
    cmd = [sys.executable, "-m", "spatialsim.cli.main", "run", *args]
    plain = _wall(cmd)
    with tempfile.TemporaryDirectory() as tmp:
        recorded = _wall([*cmd, "--out", str(Path(tmp) / "r")])
    return recorded / plain


def sweeps(points: int) -> tuple[float, float]:
    """(points per second in one process, speed-up of 2 local Dask workers over it)."""
    from spatialsim.experiment.sweep import parse_spec, sweep

    speed = _bench("sweep_speed")
    prompts = [128 + 8 * i for i in range(max(1, points // 24))]
    spec = parse_spec(speed.SPEC.format(prompts=prompts), "bench")
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            sweep(spec, Path(tmp) / "out", workers=workers)
            walls[workers] = time.perf_counter() - t0
    n = len(spec.values())
    return n / walls[1], walls[1] / walls[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=9, help="A/B pairs for start-up (9)")
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    args = ap.parse_args()
    prompt, gen, points = (8, 8, 48) if args.quick else (128, 128, 240)
    rows: list[tuple[str, str, str, bool]] = []
    run_ratio, version_ratio = startup(args.pairs)
    rows.append(("start-up: run / import simpy, numpy", f"{run_ratio:.2f}x", "<= 1.6x",
                 run_ratio <= 1.6))  # fmt: skip
    rows.append(("start-up: --version / import simpy, numpy", f"{version_ratio:.2f}x",
                 "<= 1.3x", version_ratio <= 1.3))  # fmt: skip
    wall, bare_wall, ratio = engine(prompt, gen)
    measured = f"{wall:.2f} s / {bare_wall:.2f} s = {ratio:.2f}x"
    rows.append((f"engine: every-layer {prompt} + {gen} / bare SimPy", measured, "<= 2.0x",
                 ratio <= 2.0))  # fmt: skip
    tl = timelines(prompt, gen)
    rows.append(("timelines: --out / without recording", f"{tl:.2f}x", "<= 1.5x", tl <= 1.5))
    rate, speedup = sweeps(points)
    rows.append((f"sweep: {points} points in one process", f"{rate:.1f} points/s",
                 ">= 50 points/s", rate >= 50))  # fmt: skip
    rows.append(("sweep: 2 Dask workers / one process", f"{speedup:.2f}x", ">= 1.7x",
                 speedup >= 1.7))  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'target':<{width}}  {'measured':<28}{'bar':<16}met")
    for name, got, bar, ok in rows:
        print(f"{name:<{width}}  {got:<28}{bar:<16}{'yes' if ok else 'no'}")


if __name__ == "__main__":
    main()
