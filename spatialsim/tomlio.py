"""Reading input files: the one place every file a user gives is read and decoded (design,
platform and profile TOML, Hugging Face JSON, trace, board and HBM CSV, XRT profiles), with
errors that name the file and what is wrong with it. Every reader bounds what it accepts:
files over ``MAX_INPUT_BYTES``, text that is not UTF-8, nesting too deep to parse, CSV
fields over the csv module's limit, rows with missing or extra cells, and the JSON
constants NaN and Infinity are user errors, never tracebacks.

Only regular files are read: a device (``/dev/zero``), a named pipe or a socket is refused
before a byte is read, and no read takes more than ``MAX_INPUT_BYTES`` whatever the file
claims its size is (a file growing while it is read included)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tomllib
from collections.abc import Generator
from importlib import resources
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError

MAX_INPUT_BYTES = 256 * 1024 * 1024


# Numbers in CSV cells and on the command line: ASCII digits only. Python's int() and
# float() also take "1_0" and non-ASCII digits ("٣"), which no tool writes and no reader
# of the file would read as the same number.
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_DECIMAL = re.compile(
    r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,4})?"
)


def parse_integer(text: str) -> int:
    """``text`` (surrounding blanks allowed) as an integer in ASCII digits, or ValueError."""
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"not an integer: {text!r}")
    return int(text)


def parse_decimal(text: str) -> float:
    """``text`` as a decimal number in ASCII digits (no nan, inf, underscores), or
    ValueError."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


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


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def as_path(value: Any, field: str) -> Path:
    """A path argument of a library function: a ``str`` or ``os.PathLike``, not empty."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise UserError(
            f"{field} must be a path (str or pathlib.Path, without NUL bytes), got "
            f"{type(value).__name__} {value!r:.60}",
            field=field,
        )
    return Path(value)


def read_bytes(path: Path | str, what: str, limit: int | None = None) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them (default
    ``MAX_INPUT_BYTES``; more is an error).

    The file is opened without blocking (a named pipe with no writer would otherwise wait
    forever) and checked on the open descriptor, so what is read is what was checked."""
    return b"".join(read_chunks(path, what, limit))


def read_chunks(
    path: Path | str, what: str, limit: int | None = None
) -> Generator[bytes, None, None]:
    """The bytes of regular file ``path`` a megabyte at a time, checked and bounded as
    :func:`read_bytes` (for readers that keep less than the whole file)."""
    path = Path(path)
    limit = MAX_INPUT_BYTES if limit is None else limit
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except ValueError:  # a NUL byte: no file has that name
        raise UserError(f"{str(path)!r}: not a file name (it holds a NUL byte)") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UserError(
                f"{path}: is {_kind(mode)}, not a regular file; a {what} must be a file"
            )
        size = os.fstat(fd).st_size
        if size > limit:
            raise UserError(f"{path}: {size:,} bytes is too large for a {what} (at most {limit:,})")
        total = 0
        while True:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            except OSError as exc:
                raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise UserError(f"{path}: more than {limit:,} bytes; too large for a {what}")
            yield chunk
    finally:
        os.close(fd)


def read_text(path: Path | str, what: str, errors: str = "strict") -> str:
    """The UTF-8 text of regular file ``path`` (bounded as :func:`read_bytes`); ``what``
    says what the file should be, in errors; ``errors="replace"`` tolerates bad bytes."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text {what} (not UTF-8)") from None


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


def line_table(path: Path | str, what: str) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    """A table whose every record is one line (a sweep's ``results.csv``, an optimisation's
    ``trials.csv``): (header, [(line number, cells)], bytes of a last line cut short).

    A last line without its newline (a writer killed mid-row) is left out and its length
    returned, so its writer can drop it. Any other line that is not one record of the
    header's width (an unterminated quote, a cell too many, binary bytes) is refused naming
    the line: a damaged line never hides the lines after it."""
    data = read_bytes(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text {what} (not UTF-8)") from None
    cut = 0
    lines = text.split("\n")
    if lines and lines[-1] != "":
        cut = len(lines[-1].encode("utf-8"))
    lines = lines[:-1]  # the text after the last newline: empty, or the cut line
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records = list(csv.reader([line], strict=True))
        except csv.Error as exc:
            raise UserError(
                f"{path}: line {number} is damaged ({exc}); remove or repair that line"
            ) from None
        cells = records[0] if len(records) == 1 else None
        if cells is None or "\x00" in line or (header and len(cells) != len(header)):
            width = "?" if cells is None else len(cells)
            raise UserError(
                f"{path}: line {number} is damaged ({width} cells where the header has "
                f"{len(header)}); remove or repair that line"
            )
        if not header:
            header = cells
        else:
            rows.append((number, cells))
    if not header:
        raise UserError(f"{path}: empty {what} (no header line)")
    return header, rows, cut


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in file ``path`` (``what``: e.g. 'design file')."""
    return parse_toml(read_text(path, what), str(path))


def builtin_text(package: str, name: str) -> str:
    """The text of data file ``data/<name>`` shipped in ``package``."""
    return resources.files(package).joinpath(f"data/{name}").read_text(encoding="utf-8")


def builtin_toml(package: str, name: str, origin: str) -> dict[str, Any]:
    """A TOML data file shipped in ``package`` (``data/<name>``)."""
    return parse_toml(builtin_text(package, name), origin)
