"""Hand-made audits following docs/architecture.md (until audit writes the real fixture)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

XSS = "<img src=x onerror=alert(1)>"
ETHNICITIES = ("Asian", "Black", "Indian", "White")


def _group_record(metric, attribute, group, n_utt, n_spk, value, lo, hi, **extra):
    record = {
        "metric": metric,
        "attribute": attribute,
        "group": group,
        "n_utterances": n_utt,
        "n_speakers": n_spk,
        "value": value,
        "ci_low": lo,
        "ci_high": hi,
        "flags": [],
    }
    record.update(extra)
    return record


def make_audit(*, row_ids: str = "ab" * 32, xss: bool = True) -> dict[str, Any]:
    """Return a small audit dict with every table the report knows, plus an unknown one."""
    weird = XSS if xss else "Other"
    confusion = []
    for attribute, group, n_rows in (("overall", {}, 40), ("language", {"language": "en"}, 20)):
        for t, true in enumerate(ETHNICITIES):
            counts = [(n_rows if t == p else 3) if true != "Indian" else 0 for p in range(4)]
            total = sum(counts)
            for p, pred in enumerate(ETHNICITIES):
                confusion.append(
                    {
                        "task": "ethnicity",
                        "attribute": attribute,
                        "group": group,
                        "true_label": true,
                        "predicted_label": pred,
                        "n": counts[p],
                        "rate": counts[p] / total if total else float("nan"),
                    }
                )
    disparities = [
        _group_record(
            "judged_Asian_rate",
            "ethnicity x language",
            {"ethnicity": "Asian", "language": "en"},
            120,
            24,
            0.31,
            0.25,
            0.37,
            reference="ethnicity=Asian × language=zh",
            reference_value=0.53,
            difference=-0.22,
            diff_ci_low=-0.30,
            diff_ci_high=-0.14,
            ratio=0.585,
            p_value=0.0004,
            p_adjusted=0.0021,
            flags=["significant"],
        ),
        _group_record(
            "gender_agreement",
            "gender",
            {"gender": "female"},
            300,
            60,
            0.88,
            0.84,
            0.91,
            reference="overall",
            difference=-0.06,
            diff_ci_low=-0.09,
            diff_ci_high=-0.03,
            ratio=0.936,
            p_value=0.001,
            p_adjusted=0.004,
            flags=["significant"],
        ),
        _group_record(
            "gender_agreement",
            "accent",
            {"accent": "en-029"},
            12,
            3,
            0.50,
            0.20,
            0.80,
            reference="overall",
            difference=-0.44,
            diff_ci_low=-0.75,
            diff_ci_high=-0.10,
            ratio=0.53,
            p_value=0.01,
            p_adjusted=0.04,
            flags=["insufficient_data", "significant"],
        ),
        _group_record(
            "gender_agreement",
            "ethnicity",
            {"ethnicity": weird},
            0,
            0,
            float("nan"),
            float("nan"),
            float("nan"),
            reference="overall",
            difference=float("nan"),
            p_value=float("nan"),
            p_adjusted=float("nan"),
            flags=["empty", "insufficient_data"],
        ),
        _group_record(
            "gender_agreement",
            "age_group",
            {"age_group": "60+"},
            150,
            30,
            0.93,
            0.90,
            0.96,
            reference="overall",
            difference=-0.01,
            diff_ci_low=-0.04,
            diff_ci_high=0.02,
            ratio=0.99,
            p_value=0.52,
            p_adjusted=0.9,
            flags=[],
        ),
    ]
    tables = {
        "composition": [
            {
                "attribute": "ethnicity",
                "group": {"ethnicity": e},
                "n_utterances": n,
                "n_speakers": n // 5,
                "share": n / 600,
                "flags": [],
            }
            for e, n in zip(ETHNICITIES, (150, 150, 0, 300), strict=True)
        ]
        + [
            {
                "attribute": "ethnicity",
                "group": {"ethnicity": weird},
                "n_utterances": 0,
                "n_speakers": 0,
                "share": 0.0,
                "flags": ["empty"],
            }
        ],
        "confusion": confusion,
        "agreement": [
            _group_record("ethnicity_agreement", "overall", {}, 600, 120, 0.612, 0.571, 0.650),
            _group_record(
                "ethnicity_agreement_upper_bound", "overall", {}, 600, 120, 0.74, 0.70, 0.78
            ),
        ],
        "disparities": disparities,
        "retrieval": [
            _group_record(
                f"recall@{k}",
                "overall",
                {},
                600,
                120,
                v,
                v - 0.02,
                v + 0.02,
                gallery_size=100,
                chance=k / 100,
            )
            for k, v in ((1, 0.109), (2, 0.17), (5, 0.306), (10, 0.458))
        ],
        "similarity": [
            _group_record("cosine", "gender", {"gender": g}, 300, 60, v, v - 0.01, v + 0.01)
            for g, v in (("female", 0.661), ("male", 0.702))
        ],
        "craniofacial": [
            {
                "measure": "nasal_index",
                "attribute": "overall",
                "group": {},
                "n_utterances": 600,
                "n_speakers": 120,
                "value": 0.376,
                "ci_low": 0.30,
                "ci_high": 0.45,
                "baseline": 0.02,
                "p_value": 0.001,
                "p_adjusted": 0.012,
                "flags": ["significant"],
            },
        ],
        "pitch": [
            {
                "true_gender": g,
                "f0_bin": b,
                "n_utterances": 50,
                "n_speakers": 10,
                "value": v,
                "ci_low": v - 0.1,
                "ci_high": v + 0.1,
                "metric": "judged_female_rate",
                "flags": [],
            }
            for g, b, v in (
                ("male", "80-120 Hz", 0.05),
                ("male", "160-200 Hz", 0.55),
                ("female", "160-200 Hz", 0.92),
            )
        ],
        "calibration": [
            _group_record("ece_gender", "gender", {"gender": "female"}, 300, 60, 0.041, 0.03, 0.06),
        ],
        "mystery_table": [{"name": "x", "value": 1.5}],
    }
    return {
        "schema_version": 1,
        "created": "2026-11-22T01:00:00+00:00",
        "tool": {
            "name": "s2f-audit",
            "version": "0.1.0",
            "packages": {"numpy": "2.4", "pandas": "2.3"},
        },
        "command": "s2f-audit audit --checkpoint runs/a --manifest evalpop/manifest.csv "
        "--out audits/a --seed 7",
        "seed": 7,
        "model": {
            "name": "s2f-compact",
            "checkpoint": "runs/a",
            "sha256": "cd" * 32,
            "config": {"preset": "compact"},
            "training_data": {"source": "biaslab", "n_speakers": 400},
        },
        "data": {
            "manifest": "evalpop/manifest.csv",
            "sha256": "ef" * 32,
            "source": "biaslab",
            "n_utterances": 600,
            "n_speakers": 120,
            "row_ids_sha256": row_ids,
            "vocabularies": {"ethnicity": list(ETHNICITIES), "gender": ["female", "male"]},
        },
        "settings": {
            "ci_level": 0.95,
            "n_boot": 1000,
            "min_group_size": 20,
            "reference": "overall",
            "correction": "holm",
        },
        "tables": tables,
        "artifacts": {"evaluation": "evaluation.csv", "samples": []},
    }


def write_audit(folder: Path, audit: dict[str, Any], *, faces: int = 2) -> Path:
    """Write audit.json (and small face PNGs listed as samples) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    audit = copy.deepcopy(audit)
    rng = np.random.default_rng(0)
    samples = []
    (folder / "samples").mkdir(exist_ok=True)
    for i in range(faces):
        record = {"utterance_id": f"u{i}", "ethnicity": ETHNICITIES[i % 4]}
        for kind in ("true_face", "reconstruction", "upper_bound"):
            image = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            (folder / "samples" / f"u{i}_{kind}.png").write_bytes(buffer.getvalue())
            record[kind] = f"u{i}_{kind}.png"
        samples.append(record)
    audit["artifacts"]["samples_dir"] = "samples"
    audit["artifacts"]["samples"] = samples
    path = folder / "audit.json"
    path.write_text(json.dumps(audit, indent=1), encoding="utf-8")
    return path
