"""What simulating several cards costs: wall time and events of 1, 2 and 4 cards.

Runs the same request (by default GPT-2-medium on chen2024-w8a8, prompt 32, 64 generated,
as in issue 13) on one card and split over 2 and 4 cards by tensor parallelism, and over
2 and 4 pipeline stages, each the best of ``--repeat`` runs, and prints the wall time and
SimPy events of each with its ratio to one card. The target (issue 13): 4 cards cost at
most about 4 times one card.

    python bench/multi_device.py [--model gpt2-medium] [--prompt-len 32] [--gen-len 64]
                                 [--every-layer] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import spatialsim as ss


def best(req: ss.RunRequest, repeat: int) -> tuple[float, ss.RunReport]:
    times, rep = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rep = ss.simulate(req)
        times.append(time.perf_counter() - t0)
    assert rep is not None
    return min(times), rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gpt2-medium")
    ap.add_argument("--design", default="chen2024-w8a8")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--gen-len", type=int, default=64)
    ap.add_argument("--every-layer", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base = ss.RunRequest(
        model=args.model,
        design=args.design,
        prompt_len=args.prompt_len,
        gen_len=args.gen_len,
        every_layer=args.every_layer,
    )
    print(
        f"{args.model} / {args.design}, prompt {args.prompt_len}, {args.gen_len} generated"
        + (", every layer simulated" if args.every_layer else "")
    )
    print(f"{'cards':<12}{'wall s':>9}{'x 1 card':>10}{'events':>12}{'TTFT ms':>10}{'TPOT ms':>10}")
    one = None
    for tp, pp in ((1, 1), (2, 1), (4, 1), (1, 2), (1, 4), (2, 2)):
        wall, rep = best(base.replace(tp=tp, pp=pp), args.repeat)
        one = one or wall
        label = f"tp {tp} x pp {pp}"
        r = rep.result
        print(
            f"{label:<12}{wall:>9.3f}{wall / one:>10.2f}{r.events:>12,}"
            f"{r.ttft_ms:>10.3f}{r.tpot_ms or 0:>10.3f}"
        )


if __name__ == "__main__":
    main()
