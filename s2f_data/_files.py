"""What a path is, in words: the one place that tells a FIFO from a missing file.

Loaders and the ``predict`` input scan ask :func:`path_problem` before opening a file, so a
dangling symbolic link, a link loop, a FIFO or a folder is reported as what it is instead of
"no such file" (or a read that waits forever on a pipe).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["path_problem", "printable_path"]


def _link_problem(path: Path) -> str | None:
    """Describe a symbolic link that does not lead to a file, else ``None``."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"dangling symbolic link: it points to {os.readlink(path)!r}, which does not exist"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop: following the link leads back to itself"
        return f"cannot follow the symbolic link: {err.strerror}"
    return None


def _kind_problem(mode: int) -> str | None:
    """Describe a file type that is not a regular file, else ``None``."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a regular file"
    if stat.S_ISFIFO(mode):
        return (
            "a FIFO (named pipe), not a regular file; it is not read (a read would wait "
            "for a writer)"
        )
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def path_problem(path: str | os.PathLike[str], what: str = "file") -> str | None:
    """Say why ``path`` is not a readable, non-empty regular file (``None`` when it is).

    Parameters
    ----------
    path : path-like
        The path to look at (symbolic links are followed).
    what : str
        Noun for the missing-file message (``"audio file"`` gives "audio file not found").

    Returns
    -------
    str or None
        ``"<what> not found"``, ``"dangling symbolic link: ..."``, ``"symbolic link loop:
        ..."``, ``"a FIFO (named pipe), not a regular file; ..."``, ``"a folder, not a
        regular file"``, ``"no permission to read the file"``, ``"file is empty (0
        bytes)"``, ...; ``None`` for a readable regular file with content.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "loop.wav").symlink_to(d / "loop.wav")
    >>> path_problem(d / "loop.wav")
    'symbolic link loop: following the link leads back to itself'
    >>> path_problem(d / "nothing.wav", "audio file")
    'audio file not found'
    """
    path = Path(path)
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return f"{what} not found"
    except ValueError:  # os functions refuse a NUL character
        return "the path contains a NUL character"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop in the path's folders"
        return f"cannot access the path: {err.strerror}"
    if stat.S_ISLNK(link.st_mode):
        problem = _link_problem(path)
        if problem is not None:
            return problem
    try:
        info = os.stat(path)
    except OSError as err:  # e.g. a parent folder that may not be searched
        return f"cannot access the file: {err.strerror}"
    problem = _kind_problem(info.st_mode)
    if problem is not None:
        return problem
    if not os.access(path, os.R_OK):
        return "no permission to read the file"
    if info.st_size == 0:
        return "file is empty (0 bytes)"
    return None


def printable_path(path: str | os.PathLike[str]) -> str:
    r"""Return a path as text that any UTF-8 writer accepts.

    File names that are not valid UTF-8 reach Python as lone surrogates, which a UTF-8 CSV
    writer refuses; their bytes are shown as ``\xNN`` instead.

    Examples
    --------
    >>> printable_path(os.fsdecode(b"bad\xff.wav"))
    'bad\\xff.wav'
    """
    text = os.fspath(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decoding produced
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
