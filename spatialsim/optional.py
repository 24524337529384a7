"""The libraries a plain install leaves out, and the message that says how to get them.

``pip install .`` brings what a single run, ``analyze``, the plots and calibration need.
Design-space exploration brings more: Dask ``distributed`` (parallel and cluster runs),
Optuna (``optimize``) and pyarrow (``results.parquet`` beside a sweep's CSV). They are
the ``dse`` extra (``pip install 'spatialsim[dse]'``); the test extra includes it.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from spatialsim.errors import UserError

EXTRA = "dse"
INSTALL = f"pip install 'spatialsim[{EXTRA}]'"


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, what: str) -> ModuleType:
    """``module``, imported; or a :class:`UserError` saying that ``what`` needs the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{what} needs {module}, which the '{EXTRA}' extra installs: {INSTALL}"
        ) from None
