"""Checks of where results go, run before any work so a run is never lost at the end.

>>> from pathlib import Path
>>> import tempfile
>>> out = check_output_dir(Path(tempfile.mkdtemp()) / "results")   # created, proven writable
>>> out.is_dir()
True
"""
from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path

from gridgames.solvers.errors import GridGamesError

log = logging.getLogger(__name__)


class OutputError(GridGamesError):
    """A results folder that cannot be created or written."""


def describe_os_error(exc: OSError, *, with_file: bool = True) -> str:
    """One line for an ``OSError``: the reason and (``with_file``) the file, no traceback."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EROFS,):
        reason = "read-only file system"
    where = exc.filename if exc.filename is not None and with_file else ""
    return f"{reason}: {where}" if where else reason


def _write_probe(folder: Path) -> None:
    """Write, sync and remove a small file in ``folder`` (raises the OSError a real write would)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=".gridgames-write-check-")
    try:
        os.write(handle, b"gridgames write check\n" * 64)
        os.fsync(handle)
    finally:
        os.close(handle)
        os.unlink(name)


def check_output_dir(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Create the results folder ``path`` if needed and prove it writable.

    Called before any work, so a bad ``--out`` costs nothing: an existing
    file, a parent that is a file, a read-only or full file system, and a
    folder without write permission are all refused with one line naming
    ``option`` and the cause.

    Parameters
    ----------
    path : path-like
        The folder.
    option : str
        The command-line option or argument it came from, for the message.

    Returns
    -------
    Path
        ``path``, now an existing writable folder.

    Raises
    ------
    OutputError
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} {folder}: is an existing file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in folder.parents if p.exists() and not p.is_dir()), folder)
        raise OutputError(f"{option} {folder}: cannot create the folder: {blocking} is a file") from None
    except OSError as exc:
        raise OutputError(f"{option} {folder}: cannot create the folder ({describe_os_error(exc)})") from None
    try:
        _write_probe(folder)
    except OSError as exc:
        raise OutputError(f"{option} {folder}: not writable ({describe_os_error(exc, with_file=False)})") from None
    log.debug("output folder %s is writable", folder)
    return folder


__all__ = ["OutputError", "check_output_dir", "describe_os_error"]
