"""Each package imports only the layers below it (STYLE.md: keep the concerns apart)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "spatialsim"

# package -> spatialsim packages it may import
ALLOWED = {
    "workload": {"errors", "constants", "tomlio", "workload"},
    "hardware": {"errors", "tomlio", "hardware"},
    "kinds": {"errors", "constants", "workload", "costmodel", "kinds"},
    "design": {
        "errors",
        "constants",
        "fileutil",
        "tomlio",
        "workload",
        "hardware",
        "kinds",
        "design",
    },
    "analytical": {
        "errors",
        "constants",
        "workload",
        "hardware",
        "costmodel",
        "kinds",
        "design",
        "analytical",
    },
    "report": {"errors", "constants", "fileutil", "tomlio", "metrics", "report"},
    "costmodel": {"errors", "constants", "hardware", "kinds", "design", "costmodel"},
    "metrics": {"constants", "metrics"},
    "engine": {
        "errors",
        "constants",
        "hardware",
        "kinds",
        "design",
        "costmodel",
        "metrics",
        "engine",
    },
    "hls": {"errors", "fileutil", "workload", "hardware", "kinds", "design", "hls"},
    "golden": {"golden"},
    "serving": {
        "errors",
        "executor",
        "workload",
        "hardware",
        "design",
        "costmodel",
        "engine",
        "metrics",
        "serving",
    },
    "calibration": {
        "errors",
        "executor",
        "constants",
        "fileutil",
        "tomlio",
        "workload",
        "hardware",
        "design",
        "costmodel",
        "engine",
        "metrics",
        "analytical",
        "calibration",
    },
    "experiment": {
        "errors",
        "executor",
        "constants",
        "tomlio",
        "fileutil",
        "workload",
        "hardware",
        "design",
        "costmodel",
        "engine",
        "metrics",
        "analytical",
        "calibration",
        "serving",
        "experiment",
    },
}
# limits.py (the request ceilings) sits beside errors.py, below everything that uses errors
for _allowed in ALLOWED.values():
    if "errors" in _allowed:
        _allowed.update({"limits", "optional"})
# The kinds sit below the cost models they share a vocabulary with: they may use only the
# cost model's pure building blocks, never the modules that look kinds up.
KINDS_MAY_USE = {
    "spatialsim.costmodel.loops",
    "spatialsim.costmodel.params",
    "spatialsim.costmodel.work",
}
FORBIDDEN_THIRD_PARTY = {
    "kinds": {"simpy", "matplotlib", "networkx"},
    "experiment": {"matplotlib"},
    "analytical": {"simpy", "matplotlib"},
    "design": {"simpy", "matplotlib"},
    "workload": {"simpy", "matplotlib", "networkx"},
    "costmodel": {"simpy", "matplotlib"},
    "metrics": {"simpy", "matplotlib"},
    "engine": {"matplotlib"},
    "report": {"simpy"},
    "golden": {"simpy", "matplotlib", "networkx"},
    "hls": {"simpy", "matplotlib"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_packages_import_only_downwards() -> None:
    checked = 0
    for pkg, allowed in ALLOWED.items():
        for path in (PKG / pkg).glob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "spatialsim" and len(parts) > 1:
                    assert parts[1] in allowed, f"{path.name} in {pkg} imports {name}"
                    if pkg == "kinds" and parts[1] == "costmodel":
                        assert name in KINDS_MAY_USE, f"{path.name} in kinds imports {name}"
                assert parts[0] not in FORBIDDEN_THIRD_PARTY.get(pkg, set()), (
                    f"{path.name} in {pkg} imports {name}"
                )
            checked += 1
    assert checked >= 40


def test_every_module_starts_with_a_docstring() -> None:
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PKG)} has no module docstring"


def test_kind_bodies_read_the_kernels_own_clock() -> None:
    """A kernel runs ahead of SimPy's clock between transfers, so a kind that read
    ``env.now`` (or scheduled its own timeouts) would see, or spend, the wrong time."""
    for path in (PKG / "kinds").glob("*.py"):
        text = path.read_text()
        assert "env.now" not in text and "env.timeout" not in text, path.name
