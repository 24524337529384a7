"""Make ``board.csv``: synthetic board runs for docs/calibration.md's walk-through.

The "board" is spatialsim itself with settings you are not told in the walk-through
(printed by this script and in the docs' last step), plus 1 % seeded measurement noise:
so the walk-through can show that a calibration recovers them and predicts runs it never
saw. Run from the repository root:

    python examples/calibration/make_board.py

It rewrites ``examples/calibration/board.csv`` with the same bytes every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# what the "board" does differently from the uncalibrated model
TRUTH = {
    "hbm_efficiency": 0.7,  # its GEMVs reach 70 % of a channel's sequential rate
    "launch_overhead_us": 12.0,  # each enqueue of a region kernel
    "token_overhead_us": 30.0,  # the host's work per generated token
}
RUNS = (  # model, layers, prompt, generated
    ("gpt2", 4, 32, 8),
    ("gpt2", 4, 96, 8),
    ("gpt2-medium", 2, 64, 8),
)
NOISE = 0.01
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"


def truth(model: str, layers: int, prompt: int, gen: int, tp: int = 1) -> tuple[float, float]:
    """The board's TTFT and TPOT (ms) without noise."""
    import spatialsim as ss

    r = ss.simulate(
        model=model, design="chen2024-w8a8", prompt_len=prompt, gen_len=gen, layers=layers,
        tp=tp, cost=TRUTH,
    ).result  # fmt: skip
    assert r.tpot_ms is not None
    return r.ttft_ms, r.tpot_ms


def main(out: Path | None = None) -> None:
    """Write the runs to ``out`` (default: board.csv beside this script)."""
    rng = np.random.default_rng(2026)
    rows = []
    for model, layers, prompt, gen in RUNS:
        ttft, tpot = (v * (1 + NOISE * rng.normal()) for v in truth(model, layers, prompt, gen))
        rows.append(f"{model},chen2024-w8a8,u280,{layers},{prompt},{gen},250,{ttft:.4f},{tpot:.5f}")
    out = out or Path(__file__).with_name("board.csv")
    out.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {out}; hidden: {TRUTH}")


if __name__ == "__main__":
    main()
