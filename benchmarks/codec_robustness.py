"""How a model's reconstructions hold up when the same voices come through an MP3 codec.

Builds two Common Voice style copies of a demo's evaluation speakers (English, two clips per
speaker, recorded gender and age; no faces): one with the clips MP3 round-tripped, one with
them as WAV. Each is imported with ``s2f-audit data import common_voice`` and every given run
is audited on both with the shipped bias-lab judge (``--judge biaslab``), so the only
difference between the two audits is the codec. Prints gender and age-group agreement with
the recorded value, per run and per codec.

Usage::

    python benchmarks/codec_robustness.py DEMO_DIR RUN [RUN ...] --work W

``DEMO_DIR`` is an ``s2f-audit demo --out`` folder (its ``populations/eval``); each ``RUN`` a
finished run folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import soundfile as sf

_HEADER = (
    "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\t"
    "gender\taccents\tvariant\tlocale\tsegment\n"
)
_AGE = {"18-29": "twenties", "30-44": "thirties", "45-59": "fifties", "60+": "sixties"}
_GENDER = {"female": "female_feminine", "male": "male_masculine"}


def write_common_voice(eval_dir: Path, out: Path, codec: str) -> Path:
    """Write ``out/en`` in the Common Voice layout from the English speakers of ``eval_dir``."""
    man = pd.read_csv(eval_dir / "manifest.csv")
    man = man[man.language == "en"].groupby("speaker_id").head(2)
    loc = out / "en"
    (loc / "clips").mkdir(parents=True, exist_ok=True)
    lines = [_HEADER]
    for k, row in enumerate(man.itertuples()):
        name = f"common_voice_en_{k}.{codec}"
        if codec == "wav":
            shutil.copy(eval_dir / row.audio_path, loc / "clips" / name)
        else:
            wave, rate = sf.read(eval_dir / row.audio_path)
            sf.write(loc / "clips" / name, wave, rate, format="MP3")
        lines.append(
            f"{row.speaker_id}\t{name}\tsid{k}\t{row.text}\t\t2\t0\t{_AGE[row.age_group]}\t"
            f"{_GENDER[row.gender]}\t\t\ten\t\n"
        )
    (loc / "train.tsv").write_text("".join(lines), encoding="utf-8")
    for split in ("dev.tsv", "test.tsv"):
        (loc / split).write_text(_HEADER, encoding="utf-8")
    return loc


def _cli(*args: str) -> None:
    exe = Path(sys.executable).with_name("s2f-audit")
    subprocess.run([str(exe), *args, "--quiet"], check=True)


def audit_row(run: Path, manifest: Path, out: Path) -> dict[str, float]:
    """Audit ``run`` on ``manifest`` and return the overall recorded agreements."""
    if not (out / "audit.json").is_file():
        _cli("audit", "--checkpoint", str(run), "--manifest", str(manifest), "--out", str(out),
             "--split", "train", "--judge", "biaslab", "--n-boot", "200")  # fmt: skip
    metrics = pd.read_csv(out / "metrics.csv")
    overall = metrics[metrics.attribute == "overall"]

    def value(metric: str, target: str, label: str | None = None) -> float:
        rows = overall[(overall.metric == metric) & (overall.target == target)]
        rows = rows[rows.label.isna()] if label is None else rows[rows.label == label]
        return float(rows["value"].iloc[0])

    return {
        "gender": value("recorded_agreement", "gender"),
        "women": value("recorded_recall", "gender", "female"),
        "men": value("recorded_recall", "gender", "male"),
        "age_group": value("recorded_agreement", "age_group"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    manifests = {}
    for codec in ("mp3", "wav"):
        manifest = args.work / codec / "manifest.csv"
        if not manifest.is_file():
            loc = write_common_voice(args.demo / "populations" / "eval", args.work / codec, codec)
            _cli("data", "import", "common_voice", str(loc), "--out", str(manifest))
        manifests[codec] = manifest
    rows = []
    for i, run in enumerate(args.runs):
        for codec, manifest in manifests.items():
            out = args.work / "audits" / f"{i}-{codec}"
            rows.append({"run": str(run), "codec": codec, **audit_row(run, manifest, out)})
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
