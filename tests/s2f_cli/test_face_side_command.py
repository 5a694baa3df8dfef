"""``s2f-audit face-side``: regenerates a face side bit for bit, scored by the shipped judge."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from s2f_cli import build_parser, main
from s2f_cli.commands.face_side import FIELDS, judged_agreement
from s2f_data.biaslab.faces import ETHNICITIES
from s2f_model import FaceSideSettings

TINY = [
    *("--n-persons", "6", "--encoder-steps", "2", "--decoder-steps", "2", "--batch-size", "2"),
    *("--decoder-candidates", "2", "--validation-persons", "12"),
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_regeneration_is_bit_for_bit_and_the_card_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.set_num_threads", lambda n: None)  # keep the suite's threads
    for name in ("a", "b"):
        assert main(["face-side", *TINY, "--seed", "7", "--out", str(tmp_path / name)]) == 0
    a, b = (tmp_path / n / "compact_face_side.safetensors" for n in ("a", "b"))
    assert _sha(a) == _sha(b)
    assert not (tmp_path / "a" / "candidate-0").exists()
    card = json.loads((tmp_path / "a" / "compact_face_side.json").read_text())
    assert card["sha256"] == _sha(a)
    choice = card["decoder_choice"]
    assert choice["candidates"] == 2 and choice["validation_persons"] == 12
    assert choice["scores"][choice["chosen"]] == max(choice["scores"])
    assert "judge" in choice["score"]
    # the card's command, parsed again, asks for the same settings
    argv = card["command"].split()[1:]
    assert argv[-2:] == ["--out", "DIR"]
    args = build_parser().parse_args(argv)
    again = FaceSideSettings(seed=args.seed, **{n: getattr(args, n) for n in FIELDS})
    assert dataclasses.asdict(again) == card["settings"]
    assert all(getattr(args, n) is not None for n in FIELDS)  # every setting spelled out
    assert card["settings"]["seed"] == 7 and card["settings"]["encoder_steps"] == 2
    main(["face-side", *TINY, "--seed", "8", "--out", str(tmp_path / "c")])
    assert _sha(tmp_path / "c" / "compact_face_side.safetensors") != _sha(a)


def test_keep_candidates_writes_each_candidate_and_the_kept_one_matches(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.set_num_threads", lambda n: None)
    out = tmp_path / "k"
    assert main(["face-side", *TINY, "--seed", "7", "--keep-candidates", "--out", str(out)]) == 0
    card = json.loads((out / "compact_face_side.json").read_text())
    shas = [
        json.loads((out / f"candidate-{k}" / "compact_face_side.json").read_text())["sha256"]
        for k in range(2)
    ]
    assert shas[0] != shas[1]
    assert shas[card["decoder_choice"]["chosen"]] == card["sha256"]


def test_the_flag_table_is_the_settings_dataclass():
    """The parser lists the fields without importing the model package (torch): in step."""
    fields = {f.name: type(f.default) for f in dataclasses.fields(FaceSideSettings)}
    assert fields.pop("seed") is int
    assert fields == FIELDS


def test_bad_settings_are_one_line_errors(tmp_path, capsys):
    assert main(["face-side", "--validation-seed", "0", "--out", str(tmp_path)]) == 2
    assert "validation_seed must differ from seed (0)" in capsys.readouterr().err
    assert main(["face-side", "--device", "cuda:0", "--out", str(tmp_path)]) == 2
    assert "on the CPU" in capsys.readouterr().err


class _Says:
    """A judge that gives every image the same gender and ethnicity."""

    def __init__(self, gender: int, ethnicity: int) -> None:
        self.vocabularies = {"gender": ("female", "male"), "ethnicity": ETHNICITIES}
        self.g, self.e = gender, ethnicity

    def predict_proba(self, images):
        n = len(images)
        return {
            "gender": np.eye(2)[[self.g] * n],
            "ethnicity": np.eye(len(ETHNICITIES))[[self.e] * n],
        }


@dataclasses.dataclass
class _Persons:
    gender: np.ndarray
    ethnicity: np.ndarray


def test_judged_agreement_weighs_each_ethnicity_and_attribute_the_same():
    # ethnicity 0: three persons (two female); ethnicity 1: one male; others absent
    persons = _Persons(gender=np.array([0, 0, 1, 1]), ethnicity=np.array([0, 0, 0, 1]))
    images = np.zeros((4, 8, 8, 3), np.uint8)
    # says female, ethnicity 0: group 0 gender 2/3, ethnicity 1; group 1 gender 0, ethnicity 0
    assert judged_agreement(_Says(0, 0))(images, persons) == pytest.approx((2 / 3 + 1) / 4)
    # says male, ethnicity 1: group 0 gender 1/3, ethnicity 0; group 1 gender 1, ethnicity 1
    assert judged_agreement(_Says(1, 1))(images, persons) == pytest.approx((1 / 3 + 2) / 4)
