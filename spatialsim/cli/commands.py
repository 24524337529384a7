"""The subcommands, where each lives and its one-line help: the command line imports only
the module of the command it runs (a start-up costs what that command uses), and lists the
others from here."""

from __future__ import annotations

# command -> module under spatialsim.cli that adds it (with its siblings) to the parser
MODULES: dict[str, str] = {
    "analyze": "analyze",
    "models": "info",
    "platforms": "info",
    "design": "info",
    "run": "run",
    "demo": "run",
    "kernels": "kernels",
    "export-hls": "export_hls",
    "report-hls": "calibrate",
    "calibrate": "calibrate",
    "validate": "calibrate",
    "report-xrt": "calibrate",
    "replay": "replay",
    "trace": "replay",
    "plot": "replay",
    "compare": "compare",
    "sweep": "sweep",
    "optimize": "optimize",
    "fifo-size": "fifo_size",
}

# module -> the function that adds its commands
ADDERS: dict[str, str] = {
    "analyze": "add_parser",
    "info": "add_parsers",
    "run": "add_parsers",
    "kernels": "add_parser",
    "export_hls": "add_parser",
    "calibrate": "add_parsers",
    "replay": "add_parsers",
    "compare": "add_parser",
    "sweep": "add_parser",
    "optimize": "add_parser",
    "fifo_size": "add_parser",
}

HELP: dict[str, str] = {
    "analyze": "analytical latency (paper Eqs. 8, 9, 13, 14) and constraints",
    "models": "list built-in models or show one's shape and operators",
    "platforms": "list built-in platforms or show one with sources",
    "design": "show a design's kernels, FIFOs and resources; export it",
    "run": "simulate prefill and decode (kernels, FIFOs, HBM) and report stalls",
    "demo": "simulate the paper's GPT-2 design on the U280 and write a results folder",
    "kernels": "isolated cycle estimate of every kernel (as Vitis HLS reports it)",
    "export-hls": "write HLS config headers, v++ connectivity and Vitis HLS scripts",
    "report-hls": "read a Vitis HLS synthesis report (text or XML)",
    "calibrate": (
        "fit the simulator's parameters to HLS reports, HBM microbenchmarks, board runs "
        "and XRT profiles"
    ),
    "validate": "every shipped reference number against the models, side by side",
    "report-xrt": "read an XRT profile summary (summary.csv) or device trace",
    "replay": "serve a request trace (FCFS, batch 1) and report latency percentiles",
    "trace": "generate a seeded synthetic request trace",
    "plot": "draw the figures of a results folder (run --out, replay --out)",
    "compare": (
        "spatial design vs temporal overlay (DFX): TTFT, TPOT, throughput, resources, "
        "energy side by side, with a figure"
    ),
    "sweep": "sweep design parameters (resumable; local cores or a Dask cluster)",
    "optimize": "search a design's array sizes for the Pareto front of latency and resources",
    "fifo-size": "the smallest depth of every FIFO that keeps TTFT and TPOT (and never deadlocks)",
}
