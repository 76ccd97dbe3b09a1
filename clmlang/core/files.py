"""Writing output files: atomically, keeping the user's file modes and symlinks, and checking a
destination before the work that fills it starts."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["beside", "file_problem", "folder_problem", "write_atomic"]


def beside(file: Path, relative: Path) -> Path:
    """`relative` (a path a file names, such as a scenario's spec) taken from `file`'s folder,
    with `..` folded in when that names the same file (`simulations/../specs/x.clm` is
    `specs/x.clm`; not through a symbolic link, where `..` leaves the link's target)."""
    joined = file.parent / relative
    folded = Path(os.path.normpath(joined))
    try:
        same = folded == joined or folded.resolve() == joined.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a name the system refuses
        same = False
    return folded if same else joined


def _umask() -> int:
    """The process's umask. Linux shows it in /proc/self/status; elsewhere os.umask can only
    be read by setting it, which for an instant changes it for every thread."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it.

    The rename is atomic on POSIX, so readers see the old file or the new one, never a part.
    A new file gets the mode the umask allows (like `open`), an existing one keeps its mode;
    a symlink is followed and its target replaced, so the link stays a link. A destination
    that is not a regular file (`/dev/stdout`, a FIFO) is written in place: renaming over it
    would replace the device instead of writing to it.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with open(path, "wb") as handle:
            handle.write(raw)
        return
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _creatable_in(folder: Path) -> str | None:
    """Why nothing can be created in `folder` (an existing path), or None when it can: tried
    by creating and removing a temporary folder, since permission bits do not tell the whole
    story (read-only mounts, /proc, root)."""
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        probe = tempfile.mkdtemp(prefix=".clm-probe.", dir=folder)
    except OSError as error:
        return f"cannot create files in {folder}: {error.strerror or error}"
    os.rmdir(probe)
    return None


def folder_problem(path: str | Path) -> str | None:
    """Why `path` cannot be used as a folder of output files, or None when it can."""
    try:
        return _folder_problem(path)
    except OSError as error:  # a name too long, a loop of links
        return f"cannot use {path}: {error.strerror or error}"


def file_problem(path: str | Path) -> str | None:
    """Why `path` cannot be written as an output file, or None when it can."""
    try:
        return _file_problem(path)
    except OSError as error:
        return f"cannot use {path}: {error.strerror or error}"


def _folder_problem(path: str | Path) -> str | None:
    folder = Path(path)
    if str(path) == "":
        return "an empty path"
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    return _creatable_in(_nearest_existing(folder))


def _file_problem(path: str | Path) -> str | None:
    if str(path) == "":
        return "an empty path"
    try:
        existing = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # the second: a file where a folder is
        existing = None
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            return "it is a folder, not a file"
        if not os.access(path, os.W_OK):
            return "it is not writable"
        if not stat.S_ISREG(existing.st_mode):
            return None  # /dev/stdout, a FIFO: written in place
    target = Path(os.path.realpath(path))
    return _creatable_in(_nearest_existing(target.parent))
