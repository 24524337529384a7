"""How timelines scale: a whole run with every layer detailed, written with ``--out`` and
plotted, against the simulation alone.

For each case it prints the wall time and peak resident memory of three child processes
(the simulation without a timeline, ``run --out``, and ``plot``), the timeline's recorded
spans, the file size, and whether tracks were aggregated. The target (issue 12): GPT-2-
medium 128 + 128 with ``--every-layer --out`` within a minute and under 1 GB.

    python bench/timeline_scale.py [--model gpt2-medium] [--prompt-len 128] [--gen-len 128]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of running ``spatialsim argv`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", *argv], check=True, capture_output=True
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gpt2-medium")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=128)
    args = ap.parse_args()
    common = [
        "run",
        "--model",
        args.model,
        "--prompt-len",
        str(args.prompt_len),
        "--gen-len",
        str(args.gen_len),
        "--every-layer",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        rows = [
            ("simulation alone", *child([*common, "--json", str(Path(tmp) / "r.json")])),
            ("run --every-layer --out", *child([*common, "--out", str(out)])),
            ("plot", *child(["plot", str(out)])),
        ]
        trace = out / "trace.perfetto.json"
        doc = json.loads(trace.read_text())
        size = trace.stat().st_size / 1e6
        events = len(doc["traceEvents"])
        aggregated = doc["otherData"].get("aggregated")
    print(f"{args.model}, prompt {args.prompt_len}, {args.gen_len} generated, every layer")
    print(f"{'step':<26} {'wall s':>8} {'peak MB':>9}")
    for name, wall, mb in rows:
        print(f"{name:<26} {wall:>8.2f} {mb:>9.0f}")
    print(f"trace.perfetto.json: {size:.1f} MB, {events:,} events")
    print(f"aggregated tracks: {aggregated or 'none'}")


if __name__ == "__main__":
    main()
