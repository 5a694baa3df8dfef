"""Parse rendered reports back into numbers (independent of the renderer's own code)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

#: Record keys shown inside another column's cell, and the attribute holding them.
CI_KEYS = {
    "ci_low": ("value", "data-ci-low"),
    "ci_high": ("value", "data-ci-high"),
    "diff_ci_low": ("difference", "data-ci-low"),
    "diff_ci_high": ("difference", "data-ci-high"),
    "ratio_ci_low": ("ratio", "data-ci-low"),
    "ratio_ci_high": ("ratio", "data-ci-high"),
    "change_ci_low": ("change", "data-ci-low"),
    "change_ci_high": ("change", "data-ci-high"),
}


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _columns(table) -> list[str]:
    """Record key of each column: the ``data-col`` of the header cells."""
    return [th["data-col"] for th in table.find("thead").find_all("th")]


def _cells(tr, columns: list[str]) -> dict[str, dict[str, str]]:
    cells = {}
    tds = tr.find_all("td")
    assert len(tds) == len(columns), (len(tds), columns)
    for td, column in zip(tds, columns, strict=True):
        info = {k: v for k, v in td.attrs.items() if isinstance(v, str)}
        info["text"] = td.get_text(" ", strip=True)
        cells[column] = info
    return cells


def table_cells(soup: BeautifulSoup, name: str) -> dict[int, dict[str, dict[str, str]]]:
    """Return {row index: {column: attributes and text}} of the table ``data-table=name``."""
    table = soup.find("table", attrs={"data-table": name})
    if table is None:
        raise KeyError(f"no table {name!r} in the report")
    columns = _columns(table)
    return {int(tr["data-row"]): _cells(tr, columns) for tr in table.find("tbody").find_all("tr")}


def rows_by_source(soup: BeautifulSoup) -> dict[tuple[str, int], list[dict[str, dict[str, str]]]]:
    """Every data-table row, keyed by (audit table, record index); a record may show twice."""
    out: dict[tuple[str, int], list] = {}
    for table in soup.find_all("table", class_="data"):
        columns = _columns(table)
        for tr in table.find("tbody").find_all("tr"):
            source = tr.get("data-source") or table["data-source"]  # rows of mixed tables
            out.setdefault((source, int(tr["data-row"])), []).append(_cells(tr, columns))
    return out


def column_cells(soup: BeautifulSoup, column: str) -> list[dict[str, str]]:
    """Cells (attributes and text) of every data-table column keyed ``column``."""
    out = []
    for table in soup.find_all("table", class_="data"):
        columns = _columns(table)
        if column in columns:
            for tr in table.find("tbody").find_all("tr"):
                out.append(_cells(tr, columns)[column])
    return out


def same_number(text: str, expected: Any) -> bool:
    got = float(text)
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return math.isnan(got)
    return got == expected


def check_record(cells: dict[str, dict[str, str]], record: dict[str, Any]) -> int:
    """Assert every number of ``record`` equals its HTML cell; return how many were checked."""
    checked = 0
    keys = dict(CI_KEYS)
    # export-only columns, and the keys that say what a record is (never shown)
    skip = {"sim_alpha", "null_se", "null_rate", "mdd_alpha", "input_seconds", "baseline_seconds"}
    sim = record.get("diff_sim_low")
    if isinstance(sim, float) and math.isfinite(sim):
        # a tested difference shows its simultaneous interval; the unadjusted one is in
        # the exports only
        keys["diff_sim_low"] = ("difference", "data-ci-low")
        keys["diff_sim_high"] = ("difference", "data-ci-high")
        skip |= {"diff_ci_low", "diff_ci_high"}
    else:
        skip |= {"diff_sim_low", "diff_sim_high"}
    for key, value in record.items():
        if key in skip:
            continue
        if isinstance(value, bool) or not (value is None or isinstance(value, int | float)):
            continue
        column, attr = keys.get(key, (key, "data-value"))
        if column not in cells:
            # a column is left out only when it is empty in that whole table
            assert value is None or (isinstance(value, float) and math.isnan(value)), key
            continue
        if value is None:
            assert cells[column].get(attr) in (None, "nan") or cells[column]["text"] == "—", key
            continue
        assert same_number(cells[column][attr], value), (key, cells[column], value)
        checked += 1
    return checked
