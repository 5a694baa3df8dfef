"""Rendering: the Jinja2 environment and the one page writer of every report page.

`write_page` is the only place that writes a report's files: the CSV/JSON exports of every
table shown (``<out stem>_files/``), the HTML (atomically) and, on request, the PDF. The
fairness report and the comparison both go through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from reports._figures import heat_style
from reports._pdf import html_to_pdf
from reports._tables import export_table, fmt_number, group_label

__all__ = ["render_template", "safe_name", "write_page"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.@=+-]+")


@cache
def _environment():
    import jinja2  # lazy: keeps `import reports` light

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["group"] = group_label
    env.filters["heat"] = heat_style
    env.filters["show"] = _show
    return env


def _show(value: Any) -> str:
    """Text of a provenance field; None and "" show as an em dash."""
    return "—" if value is None or value == "" else str(value)


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render a template of ``reports/templates`` with autoescape on."""
    return _environment().get_template(name).render(**context)


def safe_name(name: str) -> str:
    """Return a file-name-safe version of a table name.

    Examples
    --------
    >>> safe_name("metrics (3 s)")
    'metrics_3_s'
    """
    return _SAFE_NAME.sub("_", name).strip("._") or "table"


def write_page(
    out_html: str | os.PathLike[str],
    template: str,
    context: dict[str, Any],
    exports: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    pdf: bool = False,
) -> Path:
    """Write one report page: its exports, its HTML and optionally its PDF.

    Parameters
    ----------
    out_html : path-like
        Output HTML file (its folder is created).
    template : str
        Template of ``reports/templates`` (``report.html.j2``, ``compare.html.j2``).
    context : dict
        Template context; its ``files_dir`` is set to the export folder's name.
    exports : mapping of str to sequence of mapping
        Export name -> records, each written as ``<out stem>_files/<name>.csv`` and ``.json``.
    pdf : bool
        Also print the page to ``<out stem>.pdf`` with headless Chromium.

    Returns
    -------
    Path
        The HTML path.
    """
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = out.parent / f"{out.stem}_files"
    encoded: dict[int, tuple[Any, ...]] = {}  # a record in several exports is encoded once
    for name, records in exports.items():
        export_table(files, name, records, encoded)
    context["files_dir"] = files.name
    from s2f_data import atomic_write_text  # lazy: s2f_data imports pandas

    atomic_write_text(out, render_template(template, context))
    if pdf:
        html_to_pdf(out, out.with_suffix(".pdf"))
    return out
