"""Each package imports only the layers below it (STYLE.md: keep the concerns apart)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "spatialsim"

# package -> spatialsim packages it may import
ALLOWED = {
    "workload": {"errors", "workload"},
    "hardware": {"errors", "hardware"},
    "design": {"errors", "fileutil", "workload", "hardware", "design"},
    "analytical": {"errors", "workload", "hardware", "design", "analytical"},
    "report": {"errors", "fileutil", "metrics", "report"},
    "costmodel": {"errors", "hardware", "design", "costmodel"},
    "metrics": {"metrics"},
    "engine": {"errors", "hardware", "design", "costmodel", "metrics", "engine"},
    "hls": {"errors", "fileutil", "workload", "design", "hls"},
    "golden": {"golden"},
    "serving": {"errors", "workload", "hardware", "design", "costmodel", "engine", "metrics",
                "serving"},
    "calibration": {"errors", "fileutil", "workload", "hardware", "design", "costmodel",
                    "engine", "metrics", "analytical", "calibration"},
}
FORBIDDEN_THIRD_PARTY = {"analytical": {"simpy", "matplotlib"}, "design": {"simpy", "matplotlib"},
                         "workload": {"simpy", "matplotlib", "networkx"},
                         "costmodel": {"simpy", "matplotlib"},
                         "metrics": {"simpy", "matplotlib"},
                         "engine": {"matplotlib"},
                         "report": {"simpy"},
                         "golden": {"simpy", "matplotlib", "networkx"},
                         "hls": {"simpy", "matplotlib"}}


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
                assert parts[0] not in FORBIDDEN_THIRD_PARTY.get(pkg, set()), \
                    f"{path.name} in {pkg} imports {name}"
            checked += 1
    assert checked >= 25


def test_every_module_starts_with_a_docstring() -> None:
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PKG)} has no module docstring"
