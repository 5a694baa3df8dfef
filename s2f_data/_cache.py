"""Cache of decoded or featurised inputs, keyed by file content and front-end config.

The key is the SHA-256 of the file's bytes plus the canonical JSON of the configuration
that produced the entry, so renaming a file keeps its entry and changing one byte or one
setting misses. Entries are ``.npy`` files written atomically (temporary file + rename in
the same folder): two processes writing the same entry both succeed and a reader sees
either nothing or a whole file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from s2f_data._atomic import atomic_write_bytes
from s2f_data._files import path_problem
from s2f_data.exceptions import DataFormatError

__all__ = ["FeatureCache", "file_digest"]


def file_digest(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's content, read in chunks.

    Parameters
    ----------
    path : path-like
        File to hash.
    chunk_bytes : int
        Read size.

    Returns
    -------
    str
        64 hex characters.

    Raises
    ------
    DataFormatError
        If ``path`` is not a regular file (missing, a FIFO that would block, a link loop);
        the message says what it is.
    """
    try:
        mode: int | None = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is None or not stat.S_ISREG(mode):  # a FIFO would block the read forever
        raise DataFormatError(f"{path}: {path_problem(path) or 'not a regular file'}")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


class FeatureCache:
    """Arrays stored under ``folder``, keyed by input content and configuration.

    Parameters
    ----------
    folder : path-like
        Cache folder (created on first write).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "a.txt").write_text("x")
    1
    >>> cache = FeatureCache(d / "cache")
    >>> calls = []
    >>> f = lambda p: calls.append(p) or np.ones(3, dtype=np.float32)
    >>> _ = cache.get_or_compute(d / "a.txt", {"sr": 16000}, f)
    >>> _ = cache.get_or_compute(d / "a.txt", {"sr": 16000}, f)
    >>> len(calls)
    1
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._digests: dict[tuple[str, int, int, int], str] = {}

    def digest(self, path: str | os.PathLike[str]) -> str:
        """Content digest of ``path``, memoised on (path, inode, size, mtime)."""
        st = os.stat(path)
        memo = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if memo not in self._digests:
            self._digests[memo] = file_digest(path)
        return self._digests[memo]

    def key(self, path: str | os.PathLike[str], config: Mapping[str, Any]) -> str:
        """Cache key of a file under a configuration (JSON-serialisable mapping).

        Parameters
        ----------
        path : path-like
            Input file.
        config : mapping
            Everything that changes the cached array (sample rate, clip policy, front-end
            settings, code version).

        Returns
        -------
        str
            64 hex characters.
        """
        try:
            canon = json.dumps(dict(config), sort_keys=True, separators=(",", ":"))
        except TypeError as err:
            raise ValueError(f"cache config must be JSON-serialisable: {err}") from err
        return hashlib.sha256(f"{self.digest(path)}\n{canon}".encode()).hexdigest()

    def entry_path(self, key: str) -> Path:
        """File that holds the entry ``key``."""
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be 64 lowercase hex characters, got {key!r}")
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """Return the cached array, or ``None`` if absent or unreadable (then removed)."""
        path = self.entry_path(key)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(self, key: str, array: np.ndarray) -> Path:
        """Store ``array`` atomically under ``key``; return the entry's path."""
        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        path = self.entry_path(key)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def get_or_compute(
        self,
        path: str | os.PathLike[str],
        config: Mapping[str, Any],
        compute: Callable[[Path], np.ndarray],
    ) -> np.ndarray:
        """Return the cached array for ``(path, config)``, computing and storing it on a miss.

        Parameters
        ----------
        path : path-like
            Input file.
        config : mapping
            Configuration that determines the result.
        compute : callable
            ``compute(path) -> numpy.ndarray``, called on a miss.

        Returns
        -------
        numpy.ndarray
            The cached or freshly computed array.
        """
        key = self.key(path, config)
        hit = self.get(key)
        if hit is not None:
            return hit
        value = np.asarray(compute(Path(path)))
        self.put(key, value)
        return value
