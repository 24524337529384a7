"""Reading input files: the one place every file a user gives is read and decoded (design,
platform and profile TOML, Hugging Face JSON, trace, board and HBM CSV, XRT profiles), with
errors that name the file and what is wrong with it. Every reader bounds what it accepts:
files over ``MAX_INPUT_BYTES``, text that is not UTF-8, nesting too deep to parse, CSV
fields over the csv module's limit, rows with missing or extra cells, and the JSON
constants NaN and Infinity are user errors, never tracebacks."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError

MAX_INPUT_BYTES = 256 * 1024 * 1024


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    """The document in ``text``; ``origin`` names it in errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin}: not valid TOML ({exc})") from None
    except RecursionError:
        raise UserError(f"{origin}: not valid TOML (nested too deeply)") from None


def parse_json(text: str, origin: str) -> Any:
    """The JSON document in ``text``: strict (NaN and Infinity are not JSON)."""

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{origin}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise UserError(f"{origin}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise UserError(f"{origin}: not valid JSON ({exc})") from None


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` says what the file should be, in errors."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_INPUT_BYTES:
            raise UserError(
                f"{path}: {path.stat().st_size:,} bytes is too large for a {what} "
                f"(at most {MAX_INPUT_BYTES:,})"
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text {what} (not UTF-8)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None


def csv_rows(text: str, origin: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line, row)]) of CSV ``text``: every row has exactly the header's cells;
    blank lines are skipped."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not cells or not any(c.strip() for c in cells):
                continue
            if not header:
                header = [c.strip() for c in cells]
                continue
            line = reader.line_num
            if len(cells) != len(header):
                raise UserError(
                    f"{origin}: line {line}: {len(cells)} cells, but the header has "
                    f"{len(header)} ({','.join(header)})"
                )
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise UserError(f"{origin}: line {reader.line_num}: not valid CSV ({exc})") from None
    return header, rows


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in file ``path`` (``what``: e.g. 'design file')."""
    return parse_toml(read_text(path, what), str(path))


def builtin_text(package: str, name: str) -> str:
    """The text of data file ``data/<name>`` shipped in ``package``."""
    return resources.files(package).joinpath(f"data/{name}").read_text(encoding="utf-8")


def builtin_toml(package: str, name: str, origin: str) -> dict[str, Any]:
    """A TOML data file shipped in ``package`` (``data/<name>``)."""
    return parse_toml(builtin_text(package, name), origin)
