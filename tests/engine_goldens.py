"""Recorded engine results: every field of ``result.json`` but wall time and event counts,
for configurations that between them use every engine path (issue 22: an engine made
faster must give byte-identical results).

``tests/data/engine_goldens/<name>.json`` holds each configuration's document as canonical
JSON; ``tests/test_engine_goldens.py`` simulates each again and compares the text. A change
that is meant to move results records them again, in the same commit, with

    python tests/engine_goldens.py

so the diff shows what moved and the commit message says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "data" / "engine_goldens"
VOLATILE = ("wall_s", "events")  # how fast and how, not what: left out

SMALL = {"model": "gpt2", "prompt_len": 16, "gen_len": 3, "layers": 2}
CASES: dict[str, dict[str, Any]] = {
    "w8a8": {"model": "gpt2-medium", "design": "chen2024-w8a8", "prompt_len": 64,
             "gen_len": 4, "layers": 2},
    "w4a8": {"model": "gpt2-medium", "design": "chen2024-w4a8", "prompt_len": 128,
             "gen_len": 4, "layers": 2},
    "w8a8_every_layer": {**SMALL, "every_layer": True},
    "w8a8_fine": {"model": "gpt2", "prompt_len": 8, "gen_len": 2, "layers": 1,
                  "granularity": "fine"},
    "w8a8_chunks_1": {**SMALL, "chunks_per_row": 1},
    "w8a8_host_io": {**SMALL, "host_io": True},
    "w8a8_launch_overheads": {**SMALL, "launch_overhead_us": 5.0,
                              "cost": {"wait_overhead_us": 2.0, "token_overhead_us": 3.0}},
    "w8a8_tp2_ring": {**SMALL, "tp": 2},
    "w8a8_tp2_host": {**SMALL, "tp": 2, "topology": "host"},
    "w8a8_pp2_streamed": {**SMALL, "pp": 2},
    "w8a8_pp2_staged": {**SMALL, "pp": 2, "pp_schedule": "staged"},
    "w8a8_calibrated": {**SMALL, "calibration": "u280"},
    "dfx": {**SMALL, "design": "dfx"},
    "dfx_tp2": {**SMALL, "design": "dfx", "tp": 2},
    "terafly": {"model": "opt-1.3b", "design": "terafly-opt1.3b", "platform": "u50lv",
                "prompt_len": 16, "gen_len": 3, "layers": 2},
}  # fmt: skip


def _without(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_without(v) for v in doc]
    return doc


def document(case: dict[str, Any]) -> str:
    """The canonical text of ``case``'s result.json without the volatile fields."""
    import spatialsim as ss

    doc = _without(ss.simulate(**case).to_json())
    return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n"


def main() -> int:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        (FOLDER / f"{name}.json").write_text(document(case))
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
