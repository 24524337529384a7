"""The engine's events per second against bare SimPy's, side by side in one run.

The engine runs the ``--every-layer`` benchmark (GPT-2-medium, chen2024-w8a8, 128 prompt
+ 128 generated tokens, every layer launch simulated). Bare SimPy then runs the same
skeleton with no model behind it: as many launches, each starting one process per kernel
and waiting for all of them, every process alternating a timeout with an event that is
triggered for it (the two kinds of event the engine schedules), for the same total number
of events. Nothing is kept alive between events, so neither side pays for garbage the
other does not make. The ratio of the two rates is the engine's efficiency; issue 14 asks
for 0.8.

    python bench/engine_efficiency.py [--prompt-len 128] [--gen-len 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import simpy

import spatialsim as ss


def bare(events: int, launches: int, kernels: int, depth: int = 0) -> tuple[float, int]:
    """Wall seconds for bare SimPy to run ``launches`` waves of ``kernels`` processes that
    together schedule about ``events`` events; returns (seconds, events scheduled). With
    ``depth`` > 0 each wait sits ``depth`` generators deep (``yield from``), as the
    engine's do (kernel run, kind body, consume, take), still with no model."""
    env = simpy.Environment()
    # per wave: one Initialize and one end event per process and one AllOf; the rest are
    # pairs (a timeout, a triggered event) spread over every process of every wave
    pairs = max(0, events - launches * (2 * kernels + 1) - 2) // 2
    base, extra = divmod(pairs, launches * kernels)

    def pair(i: int, d: int) -> simpy.events.ProcessGenerator:
        if d > 1:
            yield from pair(i, d - 1)
            return
        yield env.timeout(1 + i % 3)
        ev = env.event()
        ev.succeed()
        yield ev

    def worker(i: int, n: int) -> simpy.events.ProcessGenerator:
        if depth:
            for _ in range(n):
                yield from pair(i, depth)
            return
        for _ in range(n):
            yield env.timeout(1 + i % 3)
            ev = env.event()
            ev.succeed()
            yield ev

    def driver() -> simpy.events.ProcessGenerator:
        for j in range(launches):
            procs = []
            for i in range(kernels):
                n = base + (1 if j * kernels + i < extra else 0)
                procs.append(env.process(worker(i, n)))
            yield env.all_of(procs)

    env.process(driver())
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return wall, next(env._eid)  # SimPy's event counter, as the engine reports it


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs of each")
    args = ap.parse_args()
    req = ss.RunRequest(
        model="gpt2-medium", prompt_len=args.prompt_len, gen_len=args.gen_len, every_layer=True
    )
    walls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rep = ss.simulate(req)
        walls.append(time.perf_counter() - t0)
    wall = min(walls)
    res = rep.result
    events = res.events
    kernels = len(res.phases["prefill"].kernels)
    launches = sum(p.launches for p in res.phases.values())
    runs = [bare(events, launches, kernels) for _ in range(args.repeat)]
    wall_bare = min(w for w, _ in runs)
    events_bare = runs[0][1]
    nested = [bare(events, launches, kernels, depth=3) for _ in range(args.repeat)]
    wall_nested = min(w for w, _ in nested)
    engine_rate, bare_rate = events / wall, events_bare / wall_bare
    nested_rate = nested[0][1] / wall_nested
    print(f"{launches:,} launches of {kernels} kernels")
    print(f"{'engine':<26}{events:>10,} events in {wall:.2f} s = {engine_rate:>9,.0f} events/s")
    for label, n, w, r in (
        ("bare SimPy", events_bare, wall_bare, bare_rate),
        ("SimPy, 3 yield-from deep", nested[0][1], wall_nested, nested_rate),
    ):
        print(f"{label:<26}{n:>10,} events in {w:.2f} s = {r:>9,.0f} events/s")
    print(f"efficiency: {engine_rate / bare_rate:.2f} (target 0.8)")
    print(
        f"the engine's generator depth alone, with no model: {nested_rate / bare_rate:.2f} "
        "of bare SimPy"
    )


if __name__ == "__main__":
    main()
