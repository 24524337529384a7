"""The test markers say what they mean: every test that reads ../shared carries the
`shared` marker (so `-m "not shared"` runs without it), and every declared marker is used."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _marks(decorators: list[ast.expr]) -> set[str]:
    out = set()
    for d in decorators:
        node = d.func if isinstance(d, ast.Call) else d
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"
        ):
            out.add(node.attr)
    return out


def _module_marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            value = node.value
            items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            return _marks(list(items))
    return set()


def test_every_test_reading_the_shared_folder_is_marked_shared() -> None:
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = _module_marks(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.FunctionDef)
                and node.name.startswith("test_")
                and "shared" in [a.arg for a in node.args.args]
                and "shared" not in module | _marks(node.decorator_list)
            ):
                unmarked.append(f"{path.name}::{node.name}")
    assert unmarked == []


def test_every_declared_marker_is_used() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [m.split(":")[0] for m in config["tool"]["pytest"]["ini_options"]["markers"]]
    used: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used |= _module_marks(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                used |= _marks(node.decorator_list)
    assert [m for m in declared if m not in used] == []
