r"""Import public data sets into the manifest format, and check manifests.

Examples::

    s2f-audit data check pop/manifest.csv
    s2f-audit data check vox1/manifest.csv --decode --errors vox1/errors.csv
    s2f-audit data import voxceleb1 /data/vox1 --out vox1/manifest.csv --faces /data/vggface1
    s2f-audit data import voxceleb2 /data/vox2 --out vox2/manifest.csv --age-table enriched.csv
    s2f-audit data import avspeech /data/avspeech --out avs/manifest.csv --frames-dir avs/faces
    s2f-audit data import common_voice /data/cv-corpus-17.0/en --out cv/manifest.csv
    s2f-audit data import casual_conversations /data/cc --out cc/manifest.csv
    s2f-audit data import table meta.parquet --out mine/manifest.csv \\
        --map audio_path=file --map speaker_id=spk --map gender=sex
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

from s2f_cli._common import common_parent, float_at_least
from s2f_cli.commands._data_shards import add_shards_parser, run_shards
from s2f_cli.exceptions import CLIError
from s2f_data import (
    BatchError,
    ManifestError,
    atomic_write_text,
    check_media,
    path_problem,
    read_manifest,
)
from s2f_data.adapters import SPLIT_DEFAULTS, import_dataset, parse_mapping

NAME = "data"
HELP = "import data sets to a manifest; check a manifest"

FORMAT_NAMES = (
    "voxceleb1",
    "voxceleb2",
    "avspeech",
    "common_voice",
    "casual_conversations",
    "table",
    "mavceleb",
)
#: Which command-line options each format takes (option dest -> adapter keyword).
FORMAT_OPTIONS: dict[str, dict[str, str]] = {
    "voxceleb1": {"meta": "meta", "faces": "faces_dir", "age_table": "age_table"},
    "voxceleb2": {"meta": "meta", "faces": "faces_dir", "age_table": "age_table"},
    "avspeech": {"clips_dir": "clips_dir", "side_table": "side_table", "frames_dir": "frames_dir"},
    "common_voice": {"tsv": "tsv_files", "age_scheme": "age_scheme", "clips_dir": "clips_dir"},
    "casual_conversations": {
        "json": "json_path",
        "frames_dir": "frames_dir",
        "no_frames": "extract_frames",
        "frame_time": "frame_time",
        "exclude_dark": "include_dark",
    },
    "table": {"map": "mapping", "base_dir": "base_dir", "source": "source"},
    "mavceleb": {"meta": "meta", "faces": "faces_dir", "test_ids": "test_ids"},
}
#: Options of the speaker split (option dest -> SpeakerSplit field), for the formats of
#: ``SPLIT_DEFAULTS``; ``--seed`` sets the split's seed.
SPLIT_OPTIONS: dict[str, str] = {"val_fraction": "val_fraction", "test_fraction": "test_fraction"}
#: Other spellings accepted for a format name (the README once said ``commonvoice``).
FORMAT_ALIASES = {
    "commonvoice": "common_voice",
    "cv": "common_voice",
    "casualconversations": "casual_conversations",
}


def format_name(text: str) -> str:
    """Normalise a format name: any case, ``-`` for ``_``, and the aliases.

    Examples
    --------
    >>> format_name("commonvoice"), format_name("Common-Voice"), format_name("table")
    ('common_voice', 'common_voice', 'table')
    """
    name = text.strip().lower().replace("-", "_")
    return FORMAT_ALIASES.get(name, name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    nested = [common_parent(nested=True)]
    _add_check_parser(sub, nested)
    _add_import_parser(sub, nested)
    add_shards_parser(sub, nested)


def _add_check_parser(sub: argparse._SubParsersAction, nested: list) -> None:
    """Declare the ``data check`` subcommand and its options."""
    check = sub.add_parser(
        "check", help="validate a manifest and list every problem", parents=nested
    )
    check.add_argument("manifest", help="manifest.csv")
    check.add_argument(
        "--no-files", action="store_true", help="do not check that referenced files exist"
    )
    check.add_argument(
        "--decode",
        action="store_true",
        help="decode every audio file and face; report quality and errors",
    )
    check.add_argument("--errors", metavar="CSV", help="with --decode: write the error table")
    check.add_argument(
        "--quality", metavar="CSV", help="with --decode: write the per-utterance quality table"
    )
    check.add_argument(
        "--strict", action="store_true", help="with --decode: stop at the first file that fails"
    )


def _add_import_parser(sub: argparse._SubParsersAction, nested: list) -> None:
    """Declare the ``data import`` subcommand and its options."""
    imp = sub.add_parser(
        "import",
        help="convert a data set's layout to a manifest",
        parents=nested,
        description="Options apply to the formats named in their help; others are refused.",
    )
    imp.add_argument(
        "format",
        type=format_name,
        choices=FORMAT_NAMES,
        help="data set format (commonvoice is accepted for common_voice)",
    )
    imp.add_argument("root", help="data set root folder or metadata file")
    imp.add_argument("--out", required=True, help="output manifest.csv")
    _add_video_source_options(imp)
    _add_table_source_options(imp)


def _add_video_source_options(imp: argparse.ArgumentParser) -> None:
    """Declare the import options of voxceleb, avspeech and casual_conversations."""
    imp.add_argument(
        "--meta",
        help="voxceleb1/2: meta file if not <root>/vox?_meta.csv; "
        "mavceleb: if not the one <root>/*_meta.csv",
    )
    imp.add_argument(
        "--faces", metavar="DIR", help="voxceleb1/2: folder of VGGFace images or face crops"
    )
    imp.add_argument(
        "--age-table",
        metavar="CSV",
        help="voxceleb1/2: age enrichment table (VoxCeleb_ID, video_id, "
        "birth_year, recording_year / speaker_age)",
    )
    imp.add_argument("--clips-dir", metavar="DIR", help="avspeech, common_voice: folder of clips")
    imp.add_argument(
        "--side-table", metavar="CSV", help="avspeech: demographics keyed by clip_id or ytid"
    )
    imp.add_argument(
        "--frames-dir",
        metavar="DIR",
        help="avspeech, casual_conversations: where face frames are saved",
    )
    imp.add_argument(
        "--no-frames", action="store_true", help="casual_conversations: do not extract face frames"
    )
    imp.add_argument(
        "--frame-time",
        type=float_at_least(0),
        metavar="SECONDS",
        help="casual_conversations: frame time (default: middle of the video)",
    )
    imp.add_argument(
        "--exclude-dark", action="store_true", help="casual_conversations: leave out the dark_files"
    )
    imp.add_argument("--json", metavar="FILE", help="casual_conversations: annotation JSON")


def _add_table_source_options(imp: argparse.ArgumentParser) -> None:
    """Declare the import options of common_voice, table and mavceleb, and the split fractions."""
    imp.add_argument(
        "--tsv",
        action="append",
        metavar="NAME",
        help="common_voice: TSV file(s) to read (default train, dev, test)",
    )
    imp.add_argument(
        "--age-scheme",
        choices=("project", "decades"),
        help="common_voice: age groups (default: project)",
    )
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=SOURCE",
        help="table: manifest column = table column (repeatable)",
    )
    imp.add_argument(
        "--base-dir", metavar="DIR", help="table: folder the table's paths are relative to"
    )
    imp.add_argument("--source", help="table: source name for the sidecar")
    imp.add_argument(
        "--val-fraction", type=float, help="speaker fraction for val when the source has no split"
    )
    imp.add_argument(
        "--test-fraction", type=float, help="speaker fraction for test when the source has no split"
    )
    imp.add_argument(
        "--test-ids",
        metavar="TXT",
        help="mavceleb: test identities, one per line (else a seeded split)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    if args.data_command == "check":
        return _check(args)
    if args.data_command == "shards":
        return run_shards(args)
    return _import(args)


def _check(args: argparse.Namespace) -> int:
    if not args.decode and (args.errors or args.quality or args.strict):
        raise CLIError("--errors, --quality and --strict need --decode")
    try:
        manifest = read_manifest(args.manifest, check_files=not args.no_files)
    except ManifestError as err:
        if err.issues:  # every problem, not only the first few
            err = ManifestError.from_issues(args.manifest, err.issues, shown=len(err.issues))
        raise CLIError(str(err)) from err
    n_spk = manifest.frame["speaker_id"].nunique()
    print(f"{args.manifest}: OK ({len(manifest.frame)} utterances, {n_spk} speakers)")
    if args.decode:
        return _decode(args, manifest)
    return 0


def _decode(args: argparse.Namespace, manifest: Any) -> int:
    try:
        quality, errors = check_media(
            manifest.audio_paths(), manifest.face_paths(), strict=args.strict
        )
    except BatchError as err:
        raise CLIError(f"--strict: stopped at the first bad file: {err}") from err
    quality.insert(1, "utterance_id", manifest.frame["utterance_id"].to_numpy())
    if args.quality:
        atomic_write_text(args.quality, quality.to_csv(index=False, lineterminator="\n"))
    if args.errors:
        atomic_write_text(args.errors, errors.to_csv(index=False, lineterminator="\n"))
    flags = quality["flags"].dropna().str.split(";").explode()
    counts = flags[flags != ""].value_counts()
    n = len(quality)
    print(
        f"decoded: {n - (errors['kind'] == 'audio').sum()} of {n} audio files, "
        f"{(errors['kind'] == 'face').sum()} face error(s)"
    )
    for flag, k in counts.items():
        print(f"  flag {flag}: {k} utterance(s)")
    for row in errors.itertuples():
        line = manifest.line(int(row.index))
        print(f"  line {line}: {row.kind} {row.path}: {row.reason}")
    return 2 if len(errors) else 0


def _adapter_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the adapter's keyword arguments; refuse options of other formats."""
    allowed = dict(FORMAT_OPTIONS[args.format])
    if args.format in SPLIT_DEFAULTS:
        allowed.update(SPLIT_OPTIONS)
    every = sorted({d for opts in FORMAT_OPTIONS.values() for d in opts} | set(SPLIT_OPTIONS))
    options: dict[str, Any] = {}
    split: dict[str, Any] = {}
    for dest in every:
        value = getattr(args, dest)
        if value is None or value is False:
            continue
        if dest not in allowed:
            flag = "--" + dest.replace("_", "-")
            raise CLIError(
                f"{flag} does not apply to format {args.format!r}; it takes "
                f"{sorted('--' + d.replace('_', '-') for d in allowed)}"
            )
        if dest in SPLIT_OPTIONS:
            split[SPLIT_OPTIONS[dest]] = value
            continue
        if dest == "map":
            value = parse_mapping(value)
        elif dest == "tsv":
            value = tuple(value)
        elif dest in ("no_frames", "exclude_dark"):
            value = False  # flags that switch a default-on behaviour off
        options[allowed[dest]] = value
    if args.format in SPLIT_DEFAULTS:
        options["split"] = dataclasses.replace(SPLIT_DEFAULTS[args.format], seed=args.seed, **split)
    return options


def _import(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if os.path.lexists(root) and not root.is_dir():  # a FIFO, a link loop: say what it is
        problem = path_problem(root)
        if problem is not None:
            raise CLIError(f"{root}: {problem}")
    options = _adapter_options(args)
    try:
        result = import_dataset(args.format, args.root, args.out, **options)
    except ManifestError as err:
        raise CLIError(f"the imported table is not a valid manifest:\n{err}") from err
    print(result.summary())
    if len(result.skipped):
        skipped_path = Path(args.out).with_suffix(".skipped.csv")
        atomic_write_text(skipped_path, result.skipped.to_csv(index=False, lineterminator="\n"))
        print(f"skipped items listed in {skipped_path}")
    return 0
