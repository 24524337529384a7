"""Writing output files: never half-written, and never replacing what is not a file.

What a path names decides how it is written:

- a new path or a regular file: through a temporary file in the same folder and a rename,
  so a reader sees the old file or the new one, never a part (an existing file keeps its
  permissions);
- a symbolic link: followed, and its target written as above (the link stays a link);
- a character device, a named pipe or a socket (``/dev/null``, ``/dev/stdout``, a FIFO):
  written through, never replaced;
- a directory or an empty path: an error naming the path.

A folder of outputs (``run --out DIR``) is written into a temporary sibling folder and
renamed into place once complete (:func:`atomic_folder`), so an interrupted run leaves the
complete set or nothing new. The temporary folder's name carries its writer's process id;
a writer killed outright (SIGKILL, a power cut) leaves it behind, and the next write of the
same folder removes it once that process is gone.

Missing parent folders of an output are created.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from spatialsim.errors import UserError


def _target(path: Path | str) -> tuple[Path, bool]:
    """(the path to write, whether it is a stream written through rather than replaced)."""
    if str(path) == "":
        raise UserError("output path is empty: give a file name, or '-' for stdout")
    if "\x00" in str(path):
        raise UserError(f"output path {str(path)!r} holds a NUL byte; no file has that name")
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path, False
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: is a directory; give a file name inside it")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return path, True
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file, device or pipe; refusing to replace it")
    return path, False


def check_writable(path: Path | str) -> None:
    """Refuse, before any work, an output path that could never be written (a directory,
    an empty path, something that is neither a file, a device nor a pipe)."""
    _target(path)


def _mode_for(path: Path) -> int:
    """Permissions for the new file: the old file's, or the usual ones under the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_beside(path: Path, suffix: str) -> tuple[int, str]:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` (see the module docstring for what each target gets)."""
    target, stream = _target(path)
    if stream:
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UserError(f"{path}: cannot write ({exc.strerror})") from None
        return
    fd, tmp = _temp_beside(target, ".tmp")
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_with(path: Path | str, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a temporary file beside ``path``, then put it in place (copied
    through for a device or a pipe)."""
    target, stream = _target(path)
    fd, tmp = _temp_beside(target if not stream else Path(tempfile.gettempdir()) / "x", "")
    os.close(fd)
    try:
        write(Path(tmp))
        if stream:
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            Path(tmp).unlink()
            return
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


MANIFEST = "manifest.json"


def _remove(path: Path) -> None:
    """A file, a link (not its target) or a whole folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def _remove_orphans(parent: Path, name: str) -> None:
    """Remove ``.<name>.<pid>.*.partial`` folders whose writer process is gone."""
    prefix, suffix = f".{name}.", ".partial"
    for entry in parent.iterdir():
        middle = entry.name[len(prefix) : -len(suffix)]
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix)):
            continue
        pid = middle.split(".", 1)[0]
        orphan = pid.isascii() and pid.isdigit() and not _alive(int(pid))
        if orphan and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _listing(folder: Path) -> dict[str, int]:
    """Every regular file under ``folder`` (relative POSIX path -> bytes), manifest aside."""
    out = {}
    for item in sorted(folder.rglob("*")):
        rel = item.relative_to(folder).as_posix()
        if rel != MANIFEST and item.is_file() and not item.is_symlink():
            out[rel] = item.stat().st_size
    return out


def _write_manifest(folder: Path, command: str, written: list[str]) -> None:
    doc = {
        "complete": True,
        "command": command,
        "written": sorted(written),
        "files": _listing(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


@contextlib.contextmanager
def atomic_folder(
    path: Path | str,
    label: str = "`out`",
    owns: tuple[str, ...] = (),
    command: str | None = None,
) -> Iterator[Path]:
    """Yield a temporary sibling of folder ``path`` to fill; when the block completes, it
    replaces ``path``. In an existing folder, the set's own files replace the old ones and
    what the command ``owns`` (names or glob patterns of files or folders it writes or
    that derive from them, such as the ``plots/`` of an earlier run) but did not write
    this time is removed; anything else stays. With ``command``, ``manifest.json`` is
    written last and lists every file now in the folder and which ones this command
    wrote. On an exception nothing at ``path`` changes."""
    if str(path) == "":
        raise UserError(f"{label}: the folder name is empty")
    if "\x00" in str(path):
        raise UserError(f"{label} {str(path)!r}: holds a NUL byte; no folder has that name")
    folder = Path(path)
    if folder.is_symlink():
        folder = Path(os.path.realpath(folder))
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{label} {path}: exists and is not a directory")
    parent = folder.parent if str(folder.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(parent, folder.name)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=".partial", dir=parent)
        )
    except OSError as exc:
        raise UserError(f"{label} {path}: cannot create the folder ({exc.strerror})") from None
    try:
        yield tmp
        written = [item.name for item in tmp.iterdir()]
        if not folder.exists():
            if command is not None:
                _write_manifest(tmp, command, written)
            os.replace(tmp, folder)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(folder, 0o777 & ~umask)
            return
        # an existing folder: its old manifest goes first, the new one last, so a folder
        # whose manifest is missing or older than its files is visibly incomplete
        (folder / MANIFEST).unlink(missing_ok=True)
        for entry in sorted(folder.iterdir()):
            owned = any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in owns)
            if owned and entry.name not in written:
                _remove(entry)
        for item in sorted(tmp.iterdir(), key=lambda p: p.name == MANIFEST):
            target = folder / item.name
            if item.is_dir() and (target.exists() or target.is_symlink()):
                _remove(target)  # a folder of the set replaces the old one whole
            os.replace(item, target)
        tmp.rmdir()
        if command is not None:
            _write_manifest(folder, command, written)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{label} {path}: cannot write ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
