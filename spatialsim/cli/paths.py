"""What a command reads and what it writes never collide: checked on the parsed options
before any work, for every subcommand at once (``main`` calls :func:`check_paths`).

- An output may not be one of the command's input files (``calibrate --board b.csv --out
  b.csv`` would replace the measurements with the profile), nor another of its outputs
  (``--plot X --out X``).
- A file output whose name ends in ``/`` names a folder, and is refused rather than
  written as a file of that name.
- Missing parent folders of an output are created (``run --out results/today`` works
  without ``mkdir``); docs/limits.md says so.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError

# options (argparse dests) naming files or folders a command reads
INPUTS = ("model", "platform", "design", "calibration", "board", "xrt", "hls", "hbm",
          "trace", "spec", "file", "designs", "name")  # fmt: skip
# options naming what a command writes; the commands whose --out is one file
OUTPUTS = ("out", "json", "plot")
FILE_OUT = {"design", "calibrate", "trace", "fifo-size"}


def _flag(dest: str) -> str:
    names = {"dir": "folder", "spec": "spec file", "file": "file", "designs": "--designs"}
    return names.get(dest, "--" + dest.replace("_", "-"))


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [os.fspath(v) for v in items if isinstance(v, (str, os.PathLike))]


def _same(a: str, b: str) -> bool:
    if "\x00" in a or "\x00" in b:
        return a == b
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_paths(command: str, args: argparse.Namespace) -> None:
    """Refuse outputs that collide with inputs or with each other (see the module)."""
    given = vars(args)
    outputs = [(d, v) for d in OUTPUTS for v in _values(given.get(d)) if v != "-"]
    for dest, value in outputs:
        is_file = dest == "json" or (dest == "out" and command in FILE_OUT)
        if is_file and value.endswith(("/", os.sep)):
            raise UserError(
                f"{_flag(dest)} {value}: names a folder (it ends in '/'); give a file name"
            )
    for i, (dest, value) in enumerate(outputs):
        for other, second in outputs[i + 1 :]:
            if _same(value, second):
                raise UserError(
                    f"{_flag(dest)} and {_flag(other)} both name {value}; give each its own path"
                )
        for src in INPUTS:
            for path in _values(given.get(src)):
                if os.path.exists(path) and _same(path, value):
                    raise UserError(
                        f"{_flag(dest)} {value} is the input {_flag(src)} {path}; writing it "
                        "would replace what is read: give another output path"
                    )
