"""Start-up cost: how long the command line takes before it does any work.

Times, over fresh interpreters (median of ``--repeat``): ``spatialsim --version``, ``import
spatialsim`` and importing the CLI (what every command pays), and lists which heavy
libraries each of them loads. A default ``run`` must not load scipy or matplotlib (the
calibration and plotting code); tests/test_startup.py checks that part.

    python bench/startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("scipy", "matplotlib", "numpy", "networkx", "simpy")
CASES = {
    "spatialsim --version": [sys.executable, "-m", "spatialsim.cli.main", "--version"],
    "import spatialsim": [sys.executable, "-c", "import spatialsim"],
    "import spatialsim.cli.main": [sys.executable, "-c", "import spatialsim.cli.main"],
    "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
}
PROBE = (
    "import sys, runpy; sys.argv = {argv!r}; "
    'exec(\'try:\\n runpy.run_module("spatialsim.cli.main", run_name="__main__")\\n'
    "except SystemExit: pass'); "
    "print('LOADED', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)"
)


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def loaded(argv: list[str]) -> str:
    code = PROBE.format(argv=["spatialsim", *argv], heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED")]
    return lines[-1][len("LOADED ") :] if lines else "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"{'case':40s} {'median wall':>12s}")
    for name, cmd in CASES.items():
        print(f"{name:40s} {wall(cmd, args.repeat):11.3f}s")
    print()
    for argv in (["--version"], ["run", "--layers", "1", "--prompt-len", "8", "--gen-len", "1"]):
        print(f"spatialsim {' '.join(argv):50s} loads {loaded(argv)}")


if __name__ == "__main__":
    main()
