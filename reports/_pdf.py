"""Print an HTML report to PDF with headless Chromium (no network, throw-away profile)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from reports.exceptions import ChromiumError

__all__ = ["CHROMIUM_FLAGS", "find_chromium", "html_to_pdf"]

#: Flags for a headless Chromium that talks to no server (and has no sandbox, as in containers).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--mute-audio",
)


def find_chromium(chromium: str | os.PathLike[str] | None = None) -> Path:
    """Return the Chromium executable: ``chromium`` if given, else ``chromium`` on PATH.

    Raises
    ------
    ChromiumError
        If no executable is found.
    """
    if chromium is not None:
        path = Path(chromium)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ChromiumError(f"Chromium executable {path} not found or not executable")
        return path
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumError(
        "headless Chromium is needed for --pdf but none was found on PATH (tried chromium, "
        "chromium-browser, google-chrome); install the Debian package `chromium`"
    )


def html_to_pdf(
    html: str | os.PathLike[str],
    pdf: str | os.PathLike[str],
    *,
    chromium: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
) -> Path:
    """Print a local HTML file to PDF with headless Chromium.

    Parameters
    ----------
    html : path-like
        The HTML file (opened as a ``file://`` URL).
    pdf : path-like
        Output PDF path (written atomically: printed to a temporary file, then moved).
    chromium : path-like or None
        Chromium executable (default: found on PATH).
    timeout : float
        Seconds before Chromium is stopped and :class:`ChromiumError` raised.

    Returns
    -------
    Path
        The PDF path.

    Raises
    ------
    ChromiumError
        If Chromium is missing, fails, times out or writes no PDF.
    """
    source = Path(html).resolve()
    if not source.is_file():
        raise ChromiumError(f"{source}: no such HTML file to print")
    target = Path(pdf)
    target.parent.mkdir(parents=True, exist_ok=True)
    exe = find_chromium(chromium)
    # Chromium's helper processes may still be closing profile files when it exits.
    with tempfile.TemporaryDirectory(prefix="s2f-chromium-", ignore_cleanup_errors=True) as profile:
        partial = Path(profile) / "out.pdf"
        command = [
            str(exe),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={partial}",
            source.as_uri(),
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as err:
            raise ChromiumError(f"Chromium did not print {source} within {timeout:g} s") from err
        if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise ChromiumError(
                f"Chromium failed to print {source} to PDF (exit status {result.returncode}): "
                f"{tail}"
            )
        from s2f_data import atomic_write_bytes  # lazy: s2f_data imports pandas

        atomic_write_bytes(target, partial.read_bytes())
    return target
