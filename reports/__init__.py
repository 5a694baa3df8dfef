"""Self-contained HTML fairness reports rendered from what :mod:`audit` computed.

``reports`` computes no statistics: it formats the tables of an audit.json (and, for a
comparison, what :func:`audit.compare_audits` returns) into one HTML file with inline CSS and
figures, plus CSV/JSON exports of every table shown and an optional PDF.
"""

from reports._compare import check_comparable, render_comparison
from reports._load import LoadedAudit, load_audit
from reports._pdf import html_to_pdf
from reports._report import render_report
from reports.exceptions import AuditFormatError, ChromiumError, IncompatibleAuditsError

__all__ = [
    "AuditFormatError",
    "ChromiumError",
    "IncompatibleAuditsError",
    "LoadedAudit",
    "check_comparable",
    "html_to_pdf",
    "load_audit",
    "render_comparison",
    "render_report",
]
