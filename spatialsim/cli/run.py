"""``spatialsim run`` and ``spatialsim demo``: simulate prefill and decode of a design."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_DESIGN,
    DEFAULT_GEN,
    DEFAULT_MODEL,
    DEFAULT_PLATFORM,
    DEFAULT_PROMPT,
    add_design_options,
    add_engine_options,
    add_json_option,
    add_length_options,
    add_parallel_options,
    output_path,
    request_from_args,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.experiment.request import RunRequest
from spatialsim.fileutil import atomic_folder, check_writable
from spatialsim.report.run_summary import summary_text
from spatialsim.report.text import emit_json, json_text

if TYPE_CHECKING:
    from spatialsim.metrics.result import RunResult

DEMO: dict[str, str] = {
    "model": DEFAULT_MODEL,
    "platform": DEFAULT_PLATFORM,
    "design": DEFAULT_DESIGN,
}
DEMO_PROMPT, DEMO_GEN = DEFAULT_PROMPT, DEFAULT_GEN
DEMO_OUT = "spatialsim-demo"
OUT_FILES = ("result.json", "summary.txt", "trace.perfetto.json", "report.html")
# what a run folder holds that an earlier run wrote or that derives from it ('plot DIR')
RUN_OWNS = (*OUT_FILES, "plots")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help=HELP["run"],
        description="Simulate a spatial design cycle-approximately: every kernel is a process "
        "linked by bounded FIFOs, weights stream from HBM channels, the host "
        "launches one layer at a time. Reports time to first token (prefill), "
        "time per generated token, and where each kernel's time went (busy, "
        "starved, blocked, waiting on HBM).",
    )
    add_design_options(p)
    add_length_options(p)
    _add_engine_options(p)
    p.set_defaults(func=run)

    d = sub.add_parser(
        "demo",
        help=HELP["demo"],
        description=f"Simulate {DEMO['model']} on the {DEMO['platform']} with "
        f"{DEMO['design']} (systolic prefill, GEMV decode): a "
        f"{DEMO_PROMPT}-token prompt and {DEMO_GEN} generated "
        f"tokens. Prints a summary and writes {', '.join(OUT_FILES)} and manifest.json "
        "into the results folder (open report.html in a browser).",
    )
    d.add_argument(
        "--out", type=output_path, default=DEMO_OUT, help=f"results folder (default: ./{DEMO_OUT})"
    )
    d.set_defaults(func=run_demo)


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    add_engine_options(p)
    add_parallel_options(p)
    p.add_argument(
        "--no-timing",
        action="store_true",
        help="leave the host wall time out of the JSON (wall_s: null), so "
        "identical runs give byte-identical files",
    )
    add_json_option(p, "the result JSON")
    p.add_argument(
        "--out",
        type=output_path,
        default=None,
        metavar="DIR",
        help="write DIR/report.html (open it in a browser), DIR/result.json, "
        "DIR/summary.txt, DIR/trace.perfetto.json (a timeline for ui.perfetto.dev) and "
        "DIR/manifest.json; an earlier run's files and plots/ there are replaced",
    )


def simulate_cli(
    args: argparse.Namespace, prompt: int, gen: int
) -> tuple[RunResult, dict[str, Any]]:
    """Simulate the request the options describe and assemble the JSON document."""
    from spatialsim.experiment.session import simulate

    req = request_from_args(args, prompt, gen, timeline=bool(args.out))
    report = simulate(req, progress=progress_bar())
    return report.result, report.to_json(timing=not args.no_timing)


def _write_outputs(out: str, doc: dict[str, Any], text: str, result: RunResult) -> list[Path]:
    """The --out set, written into a temporary sibling folder and moved into place when
    complete, with a manifest last: an interrupted run leaves the whole set or nothing new."""
    from spatialsim.report.pages import run_page  # only runs that write a folder
    from spatialsim.report.perfetto import write_perfetto

    with atomic_folder(out, owns=RUN_OWNS, command="run") as tmp:
        (tmp / OUT_FILES[0]).write_text(json_text(doc), encoding="utf-8")
        (tmp / OUT_FILES[1]).write_text(text + "\n", encoding="utf-8")
        write_perfetto(result, tmp / OUT_FILES[2])
        (tmp / OUT_FILES[3]).write_text(run_page(tmp), encoding="utf-8")
    return [Path(out) / n for n in OUT_FILES]


def run(args: argparse.Namespace) -> int:
    if args.json and args.json != "-":
        check_writable(args.json)  # before simulating
    result, doc = simulate_cli(args, args.prompt_len, args.gen_len)
    text = summary_text(doc)
    paths = _write_outputs(args.out, doc, text, result) if args.out else []
    if args.json:
        emit_json(doc, args.json)
        if args.json == "-":
            return 0
        paths.append(Path(args.json))
    print(text)
    if paths:
        print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from spatialsim.experiment.session import simulate

    req = RunRequest(
        model=DEMO["model"],
        platform=DEMO["platform"],
        design=DEMO["design"],
        prompt_len=DEMO_PROMPT,
        gen_len=DEMO_GEN,
        timeline=True,
    )
    report = simulate(req, progress=progress_bar())
    doc = report.to_json()
    text = summary_text(doc)
    paths = _write_outputs(args.out, doc, text, report.result)
    print(text)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0
