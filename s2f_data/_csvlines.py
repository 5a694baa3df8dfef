"""Where each record of a CSV file starts, so messages name the line a person sees.

pandas numbers rows 0, 1, 2, ... and skips blank lines, and a quoted cell may span several
lines (a transcript with a line break): "row ``i`` is on line ``i + 2``" is then wrong for
every row after it. :func:`record_lines` reads the file once with :mod:`csv` and returns the
line where each record starts; :func:`index_by_line` puts those lines in a table's index.
"""

from __future__ import annotations

import csv
import os

import pandas as pd

__all__ = ["index_by_line", "record_lines"]


def record_lines(
    path: str | os.PathLike[str],
    *,
    sep: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    encoding: str = "utf-8",
    header: bool = True,
) -> list[int]:
    r"""Return the 1-based line on which each data record of a CSV file starts.

    Blank lines are skipped, as pandas does; the header line (if ``header``) is not a record.

    Parameters
    ----------
    path : path-like
        The CSV or TSV file.
    sep : str
        Cell separator.
    quoting : int
        A :mod:`csv` quoting constant, as given to :func:`pandas.read_csv`.
    encoding : str
        Text encoding.
    header : bool
        The first non-blank record is a header.

    Returns
    -------
    list of int
        One line number per data record.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text('a,b\n1,"two\nlines"\n\n3,x\n')
    >>> record_lines(p)
    [2, 5]
    """
    starts: list[int] = []
    with open(path, newline="", encoding=encoding) as fh:
        reader = csv.reader(fh, delimiter=sep, quoting=quoting)
        end = 0
        for record in reader:
            start, end = end + 1, reader.line_num
            if record:  # csv gives [] for a blank line
                starts.append(start)
    return starts[1:] if header else starts


def index_by_line(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    first_line: int = 2,
    sep: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    r"""Return ``frame`` read from ``path``, label ``i`` being the row on line ``i + first_line``.

    ``first_line`` is where row 0 sits in a plain file (2 below a header, 1 without one), so
    code that names ``line i + first_line`` for label ``i`` stays right when blank lines or
    multi-line cells move rows down. Where :mod:`csv` cannot read the file or counts other
    records than pandas did, the frame is returned unchanged.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a\n1\n\n\n2\n")
    >>> index_by_line(pd.read_csv(p), p).index.tolist()
    [0, 3]
    """
    try:
        lines = record_lines(
            path, sep=sep, quoting=quoting, encoding=encoding, header=first_line == 2
        )
    except (OSError, UnicodeDecodeError, csv.Error):  # e.g. a cell over csv's size limit
        return frame
    if len(lines) != len(frame):
        return frame
    return frame.set_axis(pd.Index([n - first_line for n in lines]), axis=0)
