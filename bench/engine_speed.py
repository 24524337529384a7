"""Engine speed: GPT-2-medium, 128-token prompt + 128 generated tokens, chen2024-w8a8 on the
U280. Prints wall time, SimPy events, events per second and simulated cycles per second,
for the default run (identical layers replayed), a launch-by-launch run, and both again with
every array's MAC rate halved (the event count must not follow the cycle count).

    python bench/engine_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time

from spatialsim.design.graph import Design
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model

PROMPT, GEN = 128, 128
# Half the PE columns of every array, half the PEs of every GEMV engine and half the lanes
# of every decode attention head: half the MAC rate everywhere.
MATRIX_KERNELS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "out_proj",
    "ffn1",
    "ffn2",
    "qk_matmul",
    "sv_matmul",
)


def halve(design: Design) -> Design:
    sets = []
    for name in MATRIX_KERNELS:
        for bname, g in design.bitstreams.items():
            if name not in g:
                continue
            a = g.nodes[name]
            if a["kind"] in ("linear", "attn_matmul"):
                sets.append((bname, name, "cols", a["cols"] // 2))
            elif a["kind"] == "gemv":
                sets.append((bname, name, "pes", a["pes"] // 2))
            elif a["kind"] == "attn_gemv":
                sets.append((bname, name, "lanes", a["lanes"] // 2))
    out = design.copy()
    for bname, name, key, value in sets:
        out.bitstreams[bname].nodes[name][key] = value
    out.validate()
    return out


def measure(design: Design, replay: bool, repeat: int) -> tuple[float, int, float]:
    walls, events, cycles = [], 0, 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = simulate(
            design,
            get_platform("u280"),
            RunConfig(prompt_len=PROMPT, gen_len=GEN, replay_layers=replay),
        )
        walls.append(time.perf_counter() - t0)
        events, cycles = r.events, r.prefill_cycles + sum(r.token_cycles)
    # the best of the repeats: the run least disturbed by other work on the machine
    return min(walls), events, cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per case (best wall)")
    args = parser.parse_args()
    base = build_design("chen2024-w8a8", get_model("gpt2-medium"), PROMPT + GEN)
    slow = halve(base)
    measure(base, True, 1)  # warm-up: imports and caches out of the timings
    print(
        f"GPT-2-medium, prompt {PROMPT} + {GEN} generated, chen2024-w8a8 on u280 "
        f"(best of {args.repeat})"
    )
    header = (
        f"{'case':34s} {'wall s':>8s} {'events':>10s} {'events/s':>10s} "
        f"{'sim cycles':>14s} {'cycles/s':>12s}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for label, design in (("default", base), ("MAC rates halved", slow)):
        for replay in (True, False):
            case = f"{label}, {'replay layers' if replay else 'every layer'}"
            wall, events, cycles = measure(design, replay, args.repeat)
            results[(label, replay)] = wall
            print(
                f"{case:34s} {wall:8.2f} {events:10,d} {events / wall:10,.0f} "
                f"{cycles:14,.0f} {cycles / wall:12,.3g}"
            )
    for replay in (True, False):
        a, b = results[("default", replay)], results[("MAC rates halved", replay)]
        print(
            f"halving MAC rates changes wall time by {100 * (b / a - 1):+.1f} % "
            f"({'replay layers' if replay else 'every layer'})"
        )


if __name__ == "__main__":
    main()
