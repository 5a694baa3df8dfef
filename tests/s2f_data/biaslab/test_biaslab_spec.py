from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from s2f_data.biaslab import PRESETS, PopulationSpec, PopulationSpecError, load_spec


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_round_trip(name: str) -> None:
    spec = PopulationSpec.preset(name)
    again = PopulationSpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.fingerprint() == spec.fingerprint()


def test_presets_differ_as_documented() -> None:
    web = PopulationSpec.preset("web-skewed")
    rep = PopulationSpec.preset("representative")
    # web-skewed: most Asian speakers speak English, Mandarin speakers are rare
    assert web.language["Asian"]["en"] > 0.8
    assert web.language["Asian"]["zh"] < 0.05
    assert web.ethnicity["White"] > 0.5
    assert set(rep.ethnicity.values()) == {0.25}
    assert rep.gender == {"female": 0.5, "male": 0.5}
    assert web.fingerprint() != rep.fingerprint()


def _mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = path.split("/")
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("speakers", 0, r"key 'speakers': expected an integer in \[1, 1000000\], got 0"),
        ("speakers", 2.5, r"key 'speakers'"),
        ("utterances_per_speaker", True, r"key 'utterances_per_speaker'"),
        ("clip_seconds", 100.0, r"key 'clip_seconds': expected a number in \[0.5, 30\]"),
        ("face_size_px", 32, r"key 'face_size_px'"),
        ("seed", -1, r"key 'seed'"),
        ("name", "", r"key 'name'"),
        ("ethnicity/White", 0.5, r"key 'ethnicity': probabilities must sum to 1, got 1.25"),
        ("ethnicity/Martian", 0.0, r"key 'ethnicity.Martian': label 'Martian' is not one of"),
        ("gender/male", -0.5, r"key 'gender.male': probability must be a number in \[0, 1\]"),
        ("age_group/60+", "a lot", r"key 'age_group.60\+'"),
        ("language/Asian/xx", 0.0, r"key 'language.Asian.xx': label 'xx' is not one of"),
        ("language/Asian", _DELETE, r"key 'language.Asian': missing"),
        ("accent/en", _DELETE, r"key 'accent.en': missing; language.\w+.en > 0 needs"),
        ("accent/en/Asian/en-x-fr", 0.0, r"key 'accent.en.Asian.en-x-fr': label"),
        ("accent/en/Mars", {"en-us": 1.0}, r"key 'accent.en.Mars': expected 'default' or"),
        ("accent/xx", {}, r"key 'accent.xx': 'xx' is not one of"),
        ("split/train", 0.9, r"key 'split': probabilities must sum to 1"),
        ("holdout", [{"planet": "Mars"}], r"key 'holdout\[0\].planet': expected one of"),
        ("holdout", [{"language": 3}], r"key 'holdout\[0\].language': expected a label"),
        ("holdout", {"language": "zh"}, r"key 'holdout': expected an array of tables"),
        ("colour", "blue", r"key 'colour': unknown key"),
    ],
)
def test_spec_errors_name_the_key(path: str, value: Any, match: str) -> None:
    data = _mutate(PopulationSpec.preset("representative").to_dict(), path, value)
    with pytest.raises(PopulationSpecError, match=match):
        PopulationSpec.from_dict(data)


def test_spec_error_is_a_value_error_and_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nspeakers = -3\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.toml: key 'speakers'"):
        load_spec(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(PopulationSpecError, match=r"broken\.toml: not valid TOML"):
        load_spec(broken)
    with pytest.raises(PopulationSpecError, match=r"missing\.toml: population spec not found"):
        load_spec(tmp_path / "missing.toml")


def test_load_spec_reads_a_toml_file(tmp_path: Path) -> None:
    preset_text = (
        Path(__file__).parents[3] / "s2f_data" / "biaslab" / "presets" / "web-skewed.toml"
    ).read_text(encoding="utf-8")
    path = tmp_path / "mine.toml"
    path.write_text(
        preset_text.replace("speakers = 400", "speakers = 12")
        + '\n[[holdout]]\nlanguage = "zh"\nethnicity = "Asian"\n',
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert spec.speakers == 12
    assert spec.holdout == ({"language": "zh", "ethnicity": "Asian"},)
    assert spec.is_held_out({"language": "zh", "ethnicity": "Asian", "gender": "male"})
    assert not spec.is_held_out({"language": "zh", "ethnicity": "White"})


def test_unknown_preset() -> None:
    with pytest.raises(PopulationSpecError, match=r"unknown preset 'skewed'; expected one of"):
        PopulationSpec.preset("skewed")  # type: ignore[arg-type]
