"""Seed-to-seed spread of a demo's headline numbers (``s2f-audit demo --seeds N``).

Reads ``DEMO/audits/<arm>/seed-*/audit.json`` (and each audit's ``evaluation.csv``) and prints,
per arm, the mean and range over seeds of: judged gender and ethnicity agreement, the
upper bound's (true face -> face side) ethnicity agreement, retrieval recall@1 in the
100-face gallery, cosine(prediction, true face feature), the share of reconstructions
judged Asian, and the share of true faces, upper bounds and reconstructions judged the
speaker's recorded gender (what bounds the gender agreement). Usage::

    python benchmarks/seed_spread.py DEMO_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

#: (row label, metric, target) of overall records of the audit's ``metrics`` table.
HEADLINE = (
    ("gender agreement", "agreement", "gender"),
    ("ethnicity agreement", "agreement", "ethnicity"),
    ("upper-bound ethnicity agreement", "upper_agreement", "ethnicity"),
    ("retrieval recall@1 (chance 1/gallery)", "recall@1", "retrieval"),
    ("cosine(prediction, true feature)", "cos_sim", "feature"),
)


#: (row label, evaluation column) judged against the speaker's recorded gender.
LABEL_CHECKS = (
    ("true face judged the recorded gender", "true_gender"),
    ("upper bound judged the recorded gender", "upper_gender"),
    ("reconstruction judged the recorded gender", "recon_gender"),
)


def audit_numbers(audit_json: Path) -> dict[str, float]:
    """The headline numbers of one audit (overall records) and its judged-Asian share."""
    records = json.loads(audit_json.read_text(encoding="utf-8"))["tables"]["metrics"]
    overall = {(r["metric"], r.get("target")): r["value"] for r in records if r["group"] == {}}
    out = {label: overall[(metric, target)] for label, metric, target in HEADLINE}
    evaluation = pd.read_csv(audit_json.with_name("evaluation.csv"))
    out["share judged Asian"] = float((evaluation["recon_ethnicity"] == "Asian").mean())
    # what caps the gender agreement: the judge's reading of the true faces against the
    # speakers' recorded gender, and the reconstructions' against the same
    recorded = evaluation["gender"].astype(str)
    for label, column in LABEL_CHECKS:
        out[label] = float((evaluation[column].astype(str) == recorded).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table: mean [min, max] over seeds, one column per arm."""
    demo = Path((argv or sys.argv[1:])[0])
    arms = sorted(p for p in (demo / "audits").iterdir() if p.is_dir())
    columns = {}
    for arm in arms:
        seeds = sorted(arm.glob("seed-*/audit.json"))
        frame = pd.DataFrame([audit_numbers(p) for p in seeds])
        columns[f"{arm.name} ({len(seeds)} seeds)"] = [
            f"{frame[c].mean():.3f} [{frame[c].min():.3f}, {frame[c].max():.3f}]"
            for c in frame.columns
        ]
        rows = list(frame.columns)
    print("| | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for i, row in enumerate(rows):
        print(f"| {row} | " + " | ".join(col[i] for col in columns.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
