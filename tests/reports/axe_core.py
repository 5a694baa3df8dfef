"""axe-core (the accessibility checker) for the browser tests, from a cache folder.

The report itself stays script-free: the test harness injects axe-core through the DevTools
protocol. The npm package is installed once into ``$XDG_CACHE_HOME/s2f-audit/axe-core-<v>``
(``~/.cache`` by default) by ``scripts/setup.sh`` or, failing that, here with ``npm``; without
npm or a registry the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: Pinned axe-core release.
AXE_VERSION = "4.14.1"


def axe_dir() -> Path:
    """Cache folder holding ``node_modules/axe-core`` of the pinned version."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "s2f-audit" / f"axe-core-{AXE_VERSION}"


def axe_source() -> str | None:
    """Return the source of ``axe.min.js``, installing it with npm if needed; None if unable."""
    script = axe_dir() / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file() and shutil.which("npm"):
        axe_dir().mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(axe_dir()),
                f"axe-core@{AXE_VERSION}",
            ],
            check=False,
            capture_output=True,
            timeout=180,
        )
    return script.read_text(encoding="utf-8") if script.is_file() else None
