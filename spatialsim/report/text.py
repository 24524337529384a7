"""Plain-text tables and JSON output for the terminal; reads result objects only."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialsim.fileutil import atomic_write_text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Numeric columns right-aligned, text columns left-aligned."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    numeric = [
        bool(rows)
        and all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
        for i in range(len(headers))
    ]

    def line(items: Sequence[str]) -> str:
        return "  ".join(
            s.rjust(w) if num else s.ljust(w)
            for s, w, num in zip(items, widths, numeric, strict=True)
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:,.4g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def json_text(data: dict[str, Any]) -> str:
    """The JSON form used for every file and stdout document: strict JSON, so a NaN or an
    infinity anywhere is an error here, never a ``NaN`` token in a file."""
    try:
        return json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError(f"non-finite number in output: {_first_nonfinite(data)}") from None


def _first_nonfinite(value: Any, where: str = "") -> str:
    """The path of the first NaN or infinity in a document (for the internal error)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where or '.'} = {value}"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _first_nonfinite(v, f"{where}.{k}")
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _first_nonfinite(v, f"{where}[{i}]")
            if found:
                return found
    return ""


def emit_json(data: dict[str, Any], target: str) -> None:
    """Print JSON to stdout (``-``) or write it atomically to a file."""
    text = json_text(data)
    if target == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(target), text)
