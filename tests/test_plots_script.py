"""plots/readme_figures.py regenerates README's figures (into a temporary folder here)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_figures_script_writes_every_figure(tmp_path: Path) -> None:
    """The script writes README's figures, the same bytes on every run: with the
    matplotlib the committed figures were drawn with, exactly the committed ones (so they
    are up to date); with another, the same bytes on a second run."""
    import matplotlib

    module = runpy.run_path(str(ROOT / "plots" / "readme_figures.py"))
    written = module["make"](tmp_path / "a")
    figures = ROOT / "plots" / "figures"
    drawn_with = (figures / module["VERSION_FILE"]).read_text().strip()
    if matplotlib.__version__ == drawn_with:
        reference = [figures / p.name for p in written]
    else:
        reference = module["make"](tmp_path / "b")
    for a, b in zip(written, reference, strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), (
            f"{a.name} differs from {b}: rerun python plots/readme_figures.py"
        )
    names = sorted(p.name for p in written)
    assert names == sorted(module["FIGURES"])
    for p in written:
        assert p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 10_000
    # README shows the ones the script writes
    readme = (ROOT / "README.md").read_text()
    for name in names:
        assert f"plots/figures/{name}" in readme, name
