"""Import public data sets into the manifest format, and check manifests.

Examples::

    s2f-audit data check pop/manifest.csv
    s2f-audit data import voxceleb1 /data/vox1 --out vox1/manifest.csv
"""

from __future__ import annotations

import argparse

from s2f_cli._common import CLIError, NotBuiltYet, common_parent

NAME = "data"
HELP = "import data sets to a manifest; check a manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    nested = [common_parent(nested=True)]
    check = sub.add_parser(
        "check", help="validate a manifest and list every problem", parents=nested
    )
    check.add_argument("manifest", help="manifest.csv")
    check.add_argument(
        "--no-files", action="store_true", help="do not check that referenced files exist"
    )
    imp = sub.add_parser(
        "import", help="convert a data set's layout to a manifest", parents=nested
    )
    imp.add_argument("format", help="data set format")
    imp.add_argument("root", help="data set root folder or metadata file")
    imp.add_argument("--out", required=True, help="output manifest.csv")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    if args.data_command == "check":
        return _check(args)
    raise NotBuiltYet("data set adapters are not built yet (issue #5)")


def _check(args: argparse.Namespace) -> int:
    from s2f_data import ManifestError, read_manifest

    try:
        manifest = read_manifest(args.manifest, check_files=not args.no_files)
    except ManifestError as err:
        raise CLIError(str(err)) from err
    n_spk = manifest.frame["speaker_id"].nunique()
    print(f"{args.manifest}: OK ({len(manifest.frame)} utterances, {n_spk} speakers)")
    return 0
