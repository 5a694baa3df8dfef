"""Write an audit folder as a whole: build it in a fresh sibling, then swap it in one step.

An audit writes many files (``audit.json``, one CSV per table, ``evaluation.csv``,
``errors.csv``, sample images). Written straight into an existing folder, a process killed
half-way leaves the old ``audit.json`` beside new CSVs: a folder that describes no run.
Instead :func:`staging_dir` gives a fresh temporary folder beside the output, the audit writes
everything there, and :func:`publish_dir` puts it in place in one step:

- no output folder yet: one ``rename``;
- an earlier audit there: Linux's ``renameat2(RENAME_EXCHANGE)`` swaps the two folders
  atomically, then the old one (now under the temporary name) is removed. Where the exchange
  is not available, the old folder is first renamed aside and removed after the new one is
  in place (a kill between the two renames leaves the old audit under ``.<name>.old-<pid>``).

A process killed at any moment therefore leaves either the old audit or the new one at the
output path, never a mix; a leftover temporary folder is removed by the next audit of the
same output. What an audit writes (``audit.json``, CSV tables, ``samples/``, ``judge/``) is
replaced; other plain files in the folder (a caller's bookkeeping such as the demo's stage
markers, notes) are copied into the new folder just before the swap, so nothing of the
user's is lost; a folder holding other sub-folders is refused before any work, naming them
(the audit never copies or deletes a tree it did not write). Temporary files of an older
audit killed mid-write (``.<name>.<random>.tmp``) are dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from audit.exceptions import AuditInputError

__all__ = ["check_output_dir", "publish_dir", "replacing_dir", "staging_dir"]

#: Entries an audit folder may hold (replaced with it); anything else makes it refuse.
_AUDIT_ENTRIES = ("audit.json", "samples", "judge")
_RENAME_EXCHANGE = 2  # linux/fs.h
_TMP_TAG = ".tmp-"
_OLD_TAG = ".old-"


def _is_audit_entry(path: Path) -> bool:
    return path.name in _AUDIT_ENTRIES or (path.is_file() and path.suffix == ".csv")


def _is_stale_temp(path: Path) -> bool:
    """Tell whether ``path`` is a temporary file of an atomic write killed half-way."""
    return path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file()


def _target(out: Path) -> Path:
    """Follow a symlinked output folder: the folder it points to is replaced, not the link."""
    return out.resolve() if out.is_symlink() else out


def check_output_dir(out: Path) -> None:
    """Raise `AuditInputError` unless ``out`` is absent, empty or an earlier audit folder.

    Parameters
    ----------
    out : pathlib.Path
        The audit's output folder.
    """
    out = _target(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise AuditInputError(
            f"--out {out}: exists and is not a folder; an audit writes a folder there"
        )
    folders = sorted(
        p.name for p in out.iterdir() if not _is_audit_entry(p) and (p.is_dir() or p.is_symlink())
    )
    if folders:
        raise AuditInputError(
            f"--out {out}: the folder holds sub-folders an audit does not write ({folders[:5]}); "
            f"an audit replaces its output folder as a whole, so choose an empty or new folder "
            f"or move them"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(out: Path) -> None:
    """Remove temporary siblings of ``out`` left by killed audits (their process is gone)."""
    for tag in (_TMP_TAG, _OLD_TAG):
        for path in out.parent.glob(f".{glob.escape(out.name)}{tag}*"):
            pid = path.name.removeprefix(f".{out.name}{tag}").split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def staging_dir(out: Path) -> Path:
    """Create and return a fresh temporary folder beside ``out`` (same file system).

    Checks ``out`` with :func:`check_output_dir` first, and removes the temporary folders of
    earlier killed audits of the same output.
    """
    out = _target(out)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    tmp = out.parent / f".{out.name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    return tmp


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2``; False where the call is unavailable."""
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(os, "fsencode"):
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(errno, f"cannot swap {a} and {b}: {os.strerror(errno)}")


def publish_dir(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` at ``out`` in one step, replacing an earlier audit.

    Parameters
    ----------
    tmp : pathlib.Path
        The complete new audit folder (from :func:`staging_dir`).
    out : pathlib.Path
        The output folder; an earlier audit there is replaced and removed.
    """
    out = _target(out)
    check_output_dir(out)  # no sub-folder of the user's appeared there meanwhile
    if not out.exists():
        os.rename(tmp, out)
        return
    for path in out.iterdir():  # the user's plain files move with the folder
        if not _is_audit_entry(path) and not _is_stale_temp(path):
            shutil.copy2(path, tmp / path.name)
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # the old audit, now under the temp name
        return
    old = out.parent / f".{out.name}{_OLD_TAG}{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        with contextlib.suppress(OSError):
            os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def replacing_dir(out: Path) -> Iterator[Path]:
    """Yield a fresh staging folder for ``out``; publish it on success, remove it on failure.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "audit"
    >>> with replacing_dir(out) as tmp:
    ...     _ = (tmp / "audit.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['audit.json']
    """
    tmp = staging_dir(out)
    try:
        yield tmp
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
