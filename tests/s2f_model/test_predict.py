from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from s2f_data import load_audio
from s2f_model._checkpoint import load_model
from s2f_model._frontend import fit_clip
from s2f_model._predict import collect_inputs, predict_faces
from s2f_model._train import train


@pytest.fixture(scope="module")
def trained(tiny_manifest, tmp_path_factory, tiny_config):
    out = tmp_path_factory.mktemp("pred") / "run"
    train(
        tiny_config(**{"train.face_steps": 2, "train.voice_steps": 2}),
        tiny_manifest,
        out,
        progress=False,
    )
    return load_model(out), out


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def _expected_image(model, path: Path) -> np.ndarray:
    """Independent path: loader -> clip policy -> encode -> decode -> uint8."""
    wave = fit_clip(load_audio(path, sample_rate=16000), model.cfg.audio.clip_samples)
    with torch.no_grad():
        img = model.decode(model.encode_voice(torch.from_numpy(wave)[None])).image[0]
    return np.clip(np.rint(img.permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)


def test_predict_files_folders_manifest_and_failures(trained, tiny_manifest, tmp_path):
    model, _ = trained
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    stereo = 0.1 * rng.standard_normal((44100, 2)).astype(np.float32)  # 1 s, 44.1 kHz, 2 ch
    sf.write(inputs / "stereo.wav", stereo, 44100)
    sf.write(inputs / "nested" / "low.flac", 0.1 * rng.standard_normal(8000), 8000)
    (inputs / "nested" / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    (inputs / "notes.txt").write_text("not audio")
    out = tmp_path / "faces"
    report = predict_faces(
        model, [inputs, tiny_manifest, tmp_path / "missing.wav"], out, batch_size=4
    )
    n_manifest = 18
    assert report.n_ok == 2 + n_manifest
    assert report.n_failed == 2
    failed = dict(report.failures)
    assert "no such file or folder" in failed[tmp_path / "missing.wav"]
    assert "cannot decode" in failed[inputs / "nested" / "broken.wav"]
    names = sorted(str(p.relative_to(out)) for _, p in report.outputs)
    assert "stereo.png" in names and "nested/low.png" in names and "spk00_u0.png" in names
    for audio, png in report.outputs[:3]:
        got = _png(png)
        assert got.shape == (32, 32, 3) and got.dtype == np.uint8
        np.testing.assert_allclose(got, _expected_image(model, audio), atol=1)
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 22
    assert sum(r["status"] == "failed" for r in rows) == 2


def test_batched_equals_one_by_one(trained, tiny_manifest, tmp_path):
    model, _ = trained
    a = predict_faces(model, [tiny_manifest], tmp_path / "a", batch_size=7)
    b = predict_faces(model, [tiny_manifest], tmp_path / "b", batch_size=1)
    assert [p.name for _, p in a.outputs] == [p.name for _, p in b.outputs]
    for (_, pa), (_, pb) in zip(a.outputs, b.outputs, strict=True):
        diff = np.abs(_png(pa).astype(int) - _png(pb).astype(int))
        assert diff.max() <= 1


def test_single_output_file_and_argument_errors(trained, tiny_manifest, tmp_path):
    model, _ = trained
    wav = tiny_manifest.parent / "audio" / "spk01_u1.wav"
    report = predict_faces(model, wav, output=tmp_path / "me.png")
    assert report.outputs == [(wav, tmp_path / "me.png")]
    assert not (tmp_path / "predictions.csv").exists()
    with pytest.raises(ValueError, match="exactly one of out_dir"):
        predict_faces(model, [wav], tmp_path, output=tmp_path / "x.png")
    with pytest.raises(ValueError, match="names one PNG but the inputs hold 18 recordings"):
        predict_faces(model, [tiny_manifest], output=tmp_path / "x.png")


def test_collect_inputs_names_are_unique(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        sf.write(tmp_path / d / "voice.wav", np.zeros(100, dtype=np.float32), 16000)
    jobs, problems = collect_inputs([tmp_path / "a" / "voice.wav", tmp_path / "b" / "voice.wav"])
    assert [name for _, name in jobs] == ["voice.png", "voice-2.png"]
    assert problems == []
    empty = tmp_path / "empty"
    empty.mkdir()
    jobs, problems = collect_inputs([empty])
    assert jobs == [] and "folder holds no audio file" in problems[0][1]


def test_load_model_from_tensor_file_and_copied_run(trained, tmp_path):
    model, run = trained
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    tensor_file = next(copy.glob("model-*.safetensors"))
    again = load_model(tensor_file)
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
    assert again.identities == model.identities


def test_cli_predict(trained, tiny_manifest, tmp_path, capsys):
    from s2f_cli import main

    _, run = trained
    wav = tiny_manifest.parent / "audio" / "spk02_u0.wav"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(run),
                str(wav),
                "-o",
                str(tmp_path / "face.png"),
                "--quiet",
            ]
        )
        == 0
    )
    assert _png(tmp_path / "face.png").shape == (32, 32, 3)
    assert "1 face(s) written, 0 failed" in capsys.readouterr().out
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    code = main(
        [
            "predict",
            "--checkpoint",
            str(run),
            str(wav),
            str(bad),
            "--out",
            str(tmp_path / "faces"),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2  # some inputs failed: bad input, exit status 2
    assert "1 face(s) written, 1 failed" in captured.out
    assert f"failed: {bad}: cannot decode" in captured.err
    assert (tmp_path / "faces" / "spk02_u0.png").is_file()
    pickled = tmp_path / "model.pt"
    pickled.write_bytes(b"\x80\x04K\x01.")
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(pickled),
                str(wav),
                "-o",
                str(tmp_path / "f.png"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "refusing to load a .pt file" in capsys.readouterr().err
