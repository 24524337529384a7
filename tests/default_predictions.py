"""The default predictions of every shipped template, recorded.

``tests/data/default_predictions.toml`` holds what the simulator predicts, with every
parameter at its default and every template's documented structure, for one request per
template. ``tests/test_default_predictions.py`` checks that the simulator still says so:
numbers may change only where a documented structure or parameter changed, and then the
file is recorded again, in the same commit, by running

    python tests/default_predictions.py

so the change shows in the diff with the reason in its commit message.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

RECORD = Path(__file__).parent / "data" / "default_predictions.toml"

# name -> request (spatialsim.simulate keywords)
CASES: dict[str, dict[str, Any]] = {
    "chen2024-w8a8, the demo": {
        "model": "gpt2-medium", "design": "chen2024-w8a8", "prompt_len": 64, "gen_len": 16,
    },
    "chen2024-w4a8, two layers": {
        "model": "gpt2-medium", "design": "chen2024-w4a8", "prompt_len": 128, "gen_len": 8,
        "layers": 2,
    },
    "dfx, one card": {
        "model": "gpt2", "design": "dfx", "prompt_len": 16, "gen_len": 3, "layers": 2,
    },
    "dfx, two cards": {
        "model": "gpt2", "design": "dfx", "prompt_len": 16, "gen_len": 3, "layers": 2, "tp": 2,
    },
    "chen2024-llama-w8a8, LLaMA-2-7B on two cards": {
        "model": "llama2-7b", "design": "chen2024-llama-w8a8", "prompt_len": 32, "gen_len": 3,
        "layers": 2, "tp": 2,
    },
    "chen2024-llama-w4a8, LLaMA-2-7B on one card": {
        "model": "llama2-7b", "design": "chen2024-llama-w4a8", "prompt_len": 32, "gen_len": 3,
        "layers": 2,
    },
    "terafly-opt1.3b, two layers": {
        "model": "opt-1.3b", "design": "terafly-opt1.3b", "prompt_len": 16, "gen_len": 3,
        "layers": 2, "platform": "u50lv",
    },
}  # fmt: skip


def predict(case: dict[str, Any]) -> dict[str, float]:
    import spatialsim as ss

    r = ss.simulate(**case).result
    return {"ttft_ms": r.ttft_ms, "tpot_ms": r.tpot_ms or 0.0}


def record() -> None:
    import tomli_w

    doc = {name: {**case, **predict(case)} for name, case in CASES.items()}
    header = "# recorded by: python tests/default_predictions.py (see that file)\n"
    RECORD.write_text(header + tomli_w.dumps(doc), encoding="utf-8")


if __name__ == "__main__":
    record()
    sys.exit(0)
