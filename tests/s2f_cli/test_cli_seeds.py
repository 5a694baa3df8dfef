"""`s2f-audit train --seeds N` and `s2f-audit compare --a ... --b ...`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup

from audit import AuditResult, data_identity, make_evaluation_table
from s2f_cli import main
from s2f_cli.commands.compare import expand_arm

_SPEC = importlib.util.spec_from_file_location(
    "tiny_data", Path(__file__).parents[1] / "s2f_model" / "conftest.py"
)
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)


def _sets() -> list[str]:
    out = []
    for key, value in tiny.TINY_OVERRIDES.items():
        out += ["--set", f"{key}={json.dumps(value)}"]
    return out


@pytest.mark.slow
def test_train_seeds_writes_one_run_per_seed(tmp_path):
    manifest = tiny.make_tiny_manifest(tmp_path / "data")
    run = tmp_path / "run"
    argv = ["train", "--manifest", str(manifest), "--out", str(run), "--seeds", "2"]
    assert main([*argv, "--seed", "5", "--quiet", *_sets()]) == 0
    seeds, weights = [], []
    for i in range(2):
        model = json.loads((run / f"seed-{i}" / "model.json").read_text(encoding="utf-8"))
        seeds.append(model["config"]["train"]["seed"])
        weights.append(sorted((run / f"seed-{i}").glob("model*.safetensors")))
    assert seeds == [5, 6]
    assert not (run / "model.json").exists()
    blobs = [w[0].read_bytes() for w in weights]
    assert blobs[0] != blobs[1]  # another seed, another model


def test_train_seeds_must_be_positive(tmp_path, capsys):
    argv = ["train", "--manifest", "m.csv", "--out", str(tmp_path / "r"), "--seeds", "0"]
    assert main(argv) == 2
    assert "--seeds must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    root = tmp_path_factory.mktemp("audits")
    full = make_evaluation_table(40, 2, random_state=1)
    base = full[
        ["utterance_id", "speaker_id", "language", "ethnicity", "true_gender", "recon_gender"]
    ]
    for arm in ("a", "b"):
        for seed in range(2):
            table = base.copy()
            flip = np.random.default_rng(seed + 7 * (arm == "b")).random(len(table)) < 0.3
            table.loc[flip, "recon_gender"] = table.loc[flip, "true_gender"]
            AuditResult(
                {},
                settings={"groupings": ["ethnicity"], "n_boot": 30, "min_group_size": 3},
                seed=1,
                data=data_identity(table),
            ).write(root / arm / f"seed-{seed}", evaluation=table)
    return root


def test_compare_arms_from_seed_folders(audits, tmp_path):
    out = tmp_path / "c.html"
    argv = [
        "compare",
        "--a",
        str(audits / "a"),
        "--b",
        str(audits / "b" / "seed-0"),
        str(audits / "b" / "seed-1" / "audit.json"),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert soup.find(id="seeds") is not None
    assert len(soup.find(id="arm-a").find_all("br")) == 1  # two audits in A
    command = soup.find(id="report-command").get_text()
    assert "--a" in command and "seed-1/audit.json" in command


def test_positional_compare_still_works(audits, tmp_path):
    out = tmp_path / "p.html"
    a, b = audits / "a" / "seed-0" / "audit.json", audits / "b" / "seed-0" / "audit.json"
    assert main(["compare", str(a), str(b), "--out", str(out), "--quiet"]) == 0
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert soup.find(id="one-seed-note") is not None and soup.find(id="seeds") is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["X", "Y", "--a", "Z"], "either two audits (A B) or two arms"),
        (["--a", "Z"], "needs both --a and --b"),
        (["X"], "give two audits"),
    ],
)
def test_compare_bad_arguments(extra, message, tmp_path, capsys):
    assert main(["compare", *extra, "--out", str(tmp_path / "c.html")]) == 2
    assert message in capsys.readouterr().err


def test_an_arm_item_without_audit_is_named(audits, tmp_path, capsys):
    empty = tmp_path / "nothing"
    empty.mkdir()
    argv = ["compare", "--a", str(audits / "a"), "--b", str(empty), "--out", str(tmp_path / "c")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--b {empty}: no audit.json there" in err and "s2f-audit audit" in err


def test_expand_arm_orders_seeds_numerically(tmp_path):
    for i in (10, 2, 1):
        (tmp_path / f"seed-{i}").mkdir()
        (tmp_path / f"seed-{i}" / "audit.json").write_text("{}", encoding="utf-8")
    names = [p.parent.name for p in expand_arm([str(tmp_path)], "--a")]
    assert names == ["seed-1", "seed-2", "seed-10"]
