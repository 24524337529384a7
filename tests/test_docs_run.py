"""Every command in README.md, docs/*.md and the other READMEs runs, in a copy of the
repository with nothing beside it (as a fresh clone), and prints what the docs show.

Conventions the docs follow (and this test enforces):

- a ```bash block is commands to run, one per line (``\\`` continues a line); ``cd DIR``
  changes the folder for the block's later lines; a line whose comment says
  ``exit status N`` must end with N, every other with 0;
- a ```console block starts with ``$ command`` and shows what it prints, line for line;
  ``...`` marks where lines are left out (and nothing else may be); wall times are
  masked; a command already run in the same page is not run again;
- a ```python block runs in the page's copy;
- ```text, ```csv, ```toml and unlabelled blocks are file contents and listings, not run.

Commands that install packages or run the test suite itself are the two exceptions, listed
in NOT_RUN with the reason.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
    "hw_kernels/README.md",
    "traces/README.md",
    "plots/README.md",
    "examples/vitis_reports/README.md",
]
NOT_RUN = {
    "pip install": "installs packages: fresh-check and .ci/run do that in a new environment",
    "python -m pytest": "the test suite itself",
    "SPATIALSIM_FUZZ_HOSTILE=": "the test suite itself, longer",
    "python bench/": "a benchmark: it prints timings, which differ run to run",
}
RUN_LANGS = ("bash", "console", "python")
FILE_LANGS = ("text", "csv", "toml", "")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
IGNORE = shutil.ignore_patterns(
    ".git", ".ci-venv", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
    ".mypy_cache", ".ruff_cache", "build", "dist", "spatialsim-*",
)  # fmt: skip


def clone(dest: Path) -> None:
    """The repository's files as a fresh clone has them (tracked and new, not ignored),
    or, without git, the tree minus build and cache folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, dest, ignore=IGNORE)
        return
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def blocks(page: str) -> list[tuple[str, str, int]]:
    """(language, body, line) of every fenced block of a page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text[: m.start()].count("\n") + 1)
            for m in BLOCK.finditer(text)]  # fmt: skip


def commands(body: str) -> list[str]:
    """The block's command lines, continuations joined, blank and comment lines dropped."""
    out, current = [], ""
    for line in body.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip() and not current.lstrip().startswith("#"):
            out.append(current.strip())
        current = ""
    return out


def expected_status(line: str) -> int:
    m = re.search(r"#.*exit status (\d+)", line)
    return int(m.group(1)) if m else 0


def not_run(line: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if line.startswith(start)), None)


def mask(text: str) -> str:
    """Wall times and progress bars out of printed text."""
    text = re.sub(r"\bin \d+(\.\d+)? s\b", "in <T> s", text)
    text = re.sub(r"\b(took|wall) \d+(\.\d+)? s\b", r"\1 <T> s", text)
    return text


def check_excerpt(shown: list[str], actual: list[str], what: str) -> None:
    """``shown`` is ``actual`` with runs of lines left out where it says ``...``: shown
    lines not separated by ``...`` are consecutive lines of the output, the first one is
    the output's first line unless ``...`` comes first, and nothing follows the last one
    unless ``...`` ends the excerpt."""
    pos, gap = 0, False
    for want in shown:
        if want.strip() == "...":
            gap = True
            continue
        found = (actual.index(want, pos) if want in actual[pos:] else None) if gap else (
            pos if pos < len(actual) and actual[pos] == want else None)  # fmt: skip
        if found is None:
            near = "\n".join(actual[max(0, pos - 2) : pos + 12])
            where = "somewhere after" if gap else "right after"
            pytest.fail(
                f"{what} no longer prints this line {where} line {pos} of its output:\n"
                f"{want}\nwhat it prints there now:\n{near}"
            )
        pos, gap = found + 1, False
    rest = [a for a in actual[pos:] if a.strip()]
    assert gap or not rest, f"{what} prints more than the page shows: {rest[:3]}"


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    env["HOME"] = str(tmp / "home")  # no user configuration reaches the commands
    env["COLUMNS"] = "200"
    return env


class Page:
    """A page's commands run in order in one copy of the repository."""

    def __init__(self, page: str, tmp: Path) -> None:
        self.page = page
        self.clone = tmp / "clone"
        clone(self.clone)
        (tmp / "home").mkdir()
        self.env = _env(tmp)
        self.outputs: dict[str, str] = {}

    def run(self, line: str, cwd: Path, where: str) -> str:
        if line in self.outputs and cwd == self.clone:
            return self.outputs[line]
        proc = subprocess.run(
            ["bash", "-c", line.split("#")[0] if " #" in line else line],
            cwd=cwd, env=self.env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        want = expected_status(line)
        assert proc.returncode == want, (
            f"{where}: `{line}` exited {proc.returncode}, the page says {want}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        out = proc.stdout + proc.stderr
        if cwd == self.clone:
            self.outputs[line] = out
        return out

    def bash(self, body: str, where: str) -> None:
        cwd = self.clone
        for line in commands(body):
            if not_run(line):
                continue
            if line.startswith("cd "):
                cwd = (cwd / shlex.split(line)[1]).resolve()
                assert cwd.is_dir() and self.clone in (cwd, *cwd.parents), (where, line)
                continue
            self.run(line, cwd, where)

    def console(self, body: str, where: str) -> None:
        lines = body.splitlines()
        assert lines and lines[0].startswith("$ "), f"{where}: a console block starts with $"
        cmd_lines = [lines[0][2:]]
        i = 1
        while cmd_lines[-1].rstrip().endswith("\\"):
            cmd_lines.append(lines[i])
            i += 1
        command = " ".join(c.rstrip().rstrip("\\").strip() for c in cmd_lines)
        if not_run(command):
            return
        actual = [a.rstrip() for a in mask(self.run(command, self.clone, where)).splitlines()]
        shown_lines = [mask(x).rstrip() for x in lines[i:]]
        check_excerpt(shown_lines, actual, f"{where}: `{command}`")

    def python(self, body: str, where: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-c", body], cwd=self.clone, env=self.env,
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert proc.returncode == 0, f"{where}: the block failed\n{proc.stderr[-3000:]}"


def test_every_page_exists_and_labels_its_blocks() -> None:
    for page in PAGES:
        for lang, body, line in blocks(page):
            assert lang in RUN_LANGS + FILE_LANGS, f"{page}:{line}: block language {lang!r}"
            if lang == "":  # an unlabelled block is file content, never a command's output
                assert not body.startswith(("$ ", "spatialsim ")), f"{page}:{line}"


def test_no_page_asks_for_a_sibling_folder() -> None:
    for page in [*PAGES, "examples/calibration/make_board.py"]:
        text = (ROOT / page).read_text(encoding="utf-8")
        assert "../shared" not in text and "shared/reference" not in text, page


def test_the_exceptions_are_only_installs_and_the_suite() -> None:
    skipped = set()
    for page in PAGES:
        for lang, body, _ in blocks(page):
            if lang in ("bash", "console"):
                lines = commands(body) if lang == "bash" else [body.splitlines()[0][2:]]
                skipped |= {line for line in lines if not_run(line)}
    assert skipped, "the Quick start's install lines are exceptions"
    assert all(not_run(s) for s in skipped)


def test_an_excerpt_must_say_where_it_leaves_lines_out() -> None:
    out = ["a", "b", "c", "d"]
    check_excerpt(["a", "b", "c", "d"], out, "x")
    check_excerpt(["a", "...", "c", "d"], out, "x")
    check_excerpt(["...", "b", "c", "..."], out, "x")
    for bad in (["a", "c", "d"], ["b", "c", "d"], ["a", "b", "c"], ["a", "...", "e"],
                ["...", "c", "b", "..."]):  # fmt: skip
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check_excerpt(bad, out, "x")


@pytest.mark.parametrize("page", PAGES)
def test_page_commands_run_and_print_what_the_page_shows(page: str, tmp_path: Path) -> None:
    runner = Page(page, tmp_path)
    ran = 0
    for lang, body, line in blocks(page):
        where = f"{page}:{line}"
        if lang == "bash":
            runner.bash(body, where)
        elif lang == "console":
            runner.console(body, where)
        elif lang == "python":
            runner.python(body, where)
        else:
            continue
        ran += 1
    if page in ("README.md", "docs/calibration.md", "docs/api.md"):
        assert ran >= 3, f"{page}: expected its examples to run"
