"""The engine's events per second against bare SimPy's, side by side in one run.

The engine runs the ``--every-layer`` benchmark (GPT-2-medium, chen2024-w8a8, 128 prompt
+ 128 generated tokens, every layer launch simulated). Bare SimPy then processes the same
number of events with no model behind them: as many processes as the design has kernels,
each waiting on timeouts and on events another process triggers (the two kinds of event
the engine schedules). The ratio is the engine's efficiency; issue 14 asks for 0.8.

    python bench/engine_efficiency.py [--prompt-len 128] [--gen-len 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import simpy

import spatialsim as ss


def bare(events: int, processes: int) -> float:
    """Wall seconds for bare SimPy to process about ``events`` events."""
    env = simpy.Environment()
    per = max(1, events // (2 * processes))

    def worker(i: int, peer: list[simpy.Event]) -> simpy.events.ProcessGenerator:
        for _ in range(per):
            yield env.timeout(1 + i % 3)
            ev = env.event()
            peer.append(ev)
            ev.succeed()
            yield ev

    for i in range(processes):
        env.process(worker(i, []))
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0


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
    events = rep.result.events
    kernels = len(rep.result.phases["prefill"].kernels)
    wall_bare = min(bare(events, kernels) for _ in range(args.repeat))
    engine_rate, bare_rate = events / wall, events / wall_bare
    print(f"engine: {events:,} events in {wall:.2f} s = {engine_rate:,.0f} events/s")
    print(f"bare SimPy: {events:,} events in {wall_bare:.2f} s = {bare_rate:,.0f} events/s")
    print(f"efficiency: {engine_rate / bare_rate:.2f} (target 0.8)")


if __name__ == "__main__":
    main()
