"""Regenerate the figures README shows: the demo run, a replay of traces/poisson_100.csv,
`spatialsim plot` on the results, and the spatial-vs-temporal comparison. Copies the chosen
PNGs to plots/figures/.

    python plots/readme_figures.py [--out plots/figures]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from spatialsim.cli.main import main as spatialsim

ROOT = Path(__file__).resolve().parents[1]
FIGURES = (
    "gantt_layer.png",
    "stalls.png",
    "fifo_occupancy.png",
    "decode_latency.png",
    "replay_cdf.png",
    "compare.png",
)


def make(out: Path) -> list[Path]:
    """Each command writes a folder of its own (as README's examples do); the figures are
    the same bytes on every run (tests/test_plots_script.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        demo, replay, compare = (Path(tmp) / n for n in ("demo", "replay", "compare"))
        trace = str(ROOT / "traces/poisson_100.csv")
        steps = [
            ["demo", "--out", str(demo)],
            ["plot", str(demo)],
            ["replay", "--trace", trace, "--workers", "1", "--out", str(replay)],
            ["plot", str(replay)],
            [
                "compare",
                "--model",
                "gpt2-medium",
                "--prompt-len",
                "32",
                "--gen-len",
                "64",
                "--cards",
                "1,2,4",
                "--out",
                str(compare),
            ],  # as README's comparison
        ]
        for args in steps:
            if spatialsim(args) != 0:
                raise SystemExit(f"spatialsim {' '.join(args)} failed")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        where = {"replay_cdf.png": replay / "plots", "compare.png": compare}
        for name in FIGURES:
            src = where.get(name, demo / "plots") / name
            shutil.copyfile(src, out / name)
            written.append(out / name)
        return written


VERSION_FILE = "matplotlib-version.txt"  # the figures' bytes depend on it


if __name__ == "__main__":
    import matplotlib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "plots" / "figures")
    out = parser.parse_args().out
    for path in make(out):
        print(f"wrote {path}")
    (out / VERSION_FILE).write_text(matplotlib.__version__ + "\n", encoding="utf-8")
