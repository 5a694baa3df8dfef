"""Version string with the versions of the main dependencies."""

from __future__ import annotations

from importlib import metadata

__all__ = ["package_versions", "version_string"]

_PACKAGES = ("s2f-audit", "torch", "numpy", "pandas", "scikit-learn", "fairlearn")


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Return installed versions of ``names`` (``"not installed"`` where absent)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def version_string() -> str:
    """Return ``s2f-audit X (torch Y, ...)``."""
    versions = package_versions()
    own = versions.pop("s2f-audit")
    rest = ", ".join(f"{k} {v}" for k, v in versions.items())
    return f"s2f-audit {own} ({rest})"
