"""Reading TOML: the one loader for design files, platform files, calibration profiles and
the built-in data files, with errors that name the file and what is wrong with it."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    """The document in ``text``; ``origin`` names it in errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin}: not valid TOML ({exc})") from None


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` says what the file should be, in errors."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text {what} (not UTF-8)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in file ``path`` (``what``: e.g. 'design file')."""
    return parse_toml(read_text(path, what), str(path))


def builtin_text(package: str, name: str) -> str:
    """The text of data file ``data/<name>`` shipped in ``package``."""
    return resources.files(package).joinpath(f"data/{name}").read_text(encoding="utf-8")


def builtin_toml(package: str, name: str, origin: str) -> dict[str, Any]:
    """A TOML data file shipped in ``package`` (``data/<name>``)."""
    return parse_toml(builtin_text(package, name), origin)
