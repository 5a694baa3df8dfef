"""Bad-input corpus: each file gets its specified handling or a clear error naming it,
and a batch over all of them never stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from s2fdata_media import tone, write_image, write_m4a, write_mp4

from s2f_data import (
    BatchError,
    ClipPolicy,
    DataFormatError,
    assess_audio,
    check_media,
    load_audio_batch,
    load_clip,
    load_face,
    load_face_batch,
    run_batch,
)

SR = 16000


@dataclass(frozen=True)
class Case:
    """A bad input and what must happen to it."""

    name: str
    make: Callable[[Path], Path]
    error: str | None = None  # regex of the error (after the file name); None = loads
    flags: tuple[str, ...] = ()  # quality flags expected when it loads
    rate_check: bool = True


def _wav(name: str, x: np.ndarray, sr: int = SR, subtype: str = "PCM_16"):
    def make(d: Path) -> Path:
        sf.write(d / name, x, sr, subtype=subtype)
        return d / name

    return make


def _bytes(name: str, data: bytes | Callable[[Path], bytes]):
    def make(d: Path) -> Path:
        (d / name).write_bytes(data(d) if callable(data) else data)
        return d / name

    return make


def _ok_wav_bytes(d: Path) -> bytes:
    sf.write(d / "_src.wav", tone(2.0), SR, subtype="PCM_16")
    return (d / "_src.wav").read_bytes()


def _nan(d: Path) -> Path:
    x = tone(1.0)
    x[123] = np.nan
    sf.write(d / "nan.wav", x, SR, subtype="FLOAT")
    return d / "nan.wav"


def _inf(d: Path) -> Path:
    x = tone(1.0)
    x[-1] = np.inf
    sf.write(d / "inf.flac.wav", x, SR, subtype="FLOAT")
    return d / "inf.flac.wav"


def _chmod000(d: Path) -> Path:
    p = _wav("locked.wav", tone(2.0))(d)
    p.chmod(0)
    return p


def _one_hour(d: Path) -> Path:
    """1 hour at 8 kHz PCM16 (57.6 MB), written block by block."""
    path = d / "hour.wav"
    block = tone(60.0, 8000, amp=0.3)
    with sf.SoundFile(path, "w", 8000, 1, subtype="PCM_16") as fh:
        for _ in range(60):
            fh.write(block)
    return path


def _dir(d: Path) -> Path:
    (d / "folder.wav").mkdir()
    return d / "folder.wav"


def _corrupt_m4a(d: Path) -> Path:
    p = write_m4a(d / "_ok.m4a", tone(1.0))
    data = p.read_bytes()
    (d / "broken.m4a").write_bytes(data[: len(data) // 3])
    return d / "broken.m4a"


AUDIO_CASES = [
    Case(
        "truncated",
        _bytes("truncated.wav", lambda d: _ok_wav_bytes(d)[:40000]),
        flags=("truncated",),
    ),
    Case("zero_length", _bytes("zero.wav", b""), error=r"file is empty \(0 bytes\)"),
    Case(
        "header_only",
        _bytes("header.wav", lambda d: _ok_wav_bytes(d)[:44]),
        error="audio file has no samples",
    ),
    Case("nan_samples", _nan, error="NaN or Inf samples"),
    Case("inf_samples", _inf, error="NaN or Inf samples"),
    Case(
        "text_as_wav",
        _bytes("text.wav", b"this is not audio\n" * 50),
        error="not a readable audio file|cannot decode",
    ),
    Case(
        "random_bytes",
        _bytes("noise.flac", bytes(range(256)) * 40),
        error="not a readable audio file|cannot decode",
    ),
    Case("8khz", _wav("8k.wav", tone(2.0, 8000), 8000)),
    Case("44k1_stereo", _wav("stereo.wav", tone(2.0, 44100, channels=2), 44100)),
    Case("96k_24bit", _wav("hires.wav", tone(2.0, 96000), 96000, "PCM_24")),
    Case("silent", _wav("silent.wav", np.zeros(SR * 2, dtype=np.float32)), flags=("silent",)),
    Case(
        "fully_clipped",
        _wav("clipped.wav", np.sign(tone(2.0)) * 1.0, subtype="FLOAT"),
        flags=("clipped",),
    ),
    Case(
        "float_over_full_scale",
        _wav("hot.wav", tone(2.0, amp=3.0), subtype="FLOAT"),
        flags=("clipped",),
    ),
    Case("very_short", _wav("short.wav", tone(0.1)), flags=("too_short",)),
    Case("one_hour", _one_hour),
    Case("six_channels", _wav("six.wav", tone(2.0, channels=6))),
    Case("unsigned_8bit", _wav("u8.wav", tone(2.0), subtype="PCM_U8")),
    Case("missing", lambda d: d / "missing.wav", error="audio file not found"),
    Case("directory", _dir, error="not a regular file"),
    Case("corrupt_m4a", _corrupt_m4a, error="cannot (open|decode)"),
    Case(
        "video_without_audio",
        lambda d: write_mp4(d / "mute.mp4", with_audio=False),
        error="no audio track",
    ),
    Case("video_with_audio", lambda d: write_mp4(d / "talk.mp4", seconds=1.0)),
    # As root (these tests run as root) mode 000 does not stop reads: the loader must agree
    # with the OS's own verdict. test_unreadable_file_as_unprivileged_user checks the error.
    Case(
        "mode_000",
        _chmod000,
        error=None if os.access("/", os.W_OK) and os.geteuid() == 0 else "no permission",
    ),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad_audio")
    return {c.name: c.make(d) for c in AUDIO_CASES}


def test_corpus_has_at_least_20_audio_cases():
    assert len(AUDIO_CASES) >= 20
    assert len({c.name for c in AUDIO_CASES}) == len(AUDIO_CASES)


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.name)
def test_each_bad_audio_input(corpus, case: Case):
    path = corpus[case.name]
    if case.error is not None:
        with pytest.raises(DataFormatError, match=f"^{re.escape(str(path))}: .*({case.error})"):
            load_clip(path, ClipPolicy(seconds=1.0))
        with pytest.raises(DataFormatError, match=f"^{re.escape(str(path))}: "):
            assess_audio(path)
        return
    clip = load_clip(path, ClipPolicy(seconds=1.0))
    assert clip.windows.shape == (1, SR) and clip.windows.dtype == np.float32
    assert np.isfinite(clip.windows).all()
    q = assess_audio(path)
    assert set(q.flags) == set(case.flags)


def test_batch_over_the_whole_corpus_never_stops(corpus):
    paths = [corpus[c.name] for c in AUDIO_CASES]
    res = load_audio_batch(paths, policy=ClipPolicy(seconds=1.0))
    failing = {str(corpus[c.name]) for c in AUDIO_CASES if c.error is not None}
    assert set(res.errors["path"]) == failing
    assert res.n_total == len(AUDIO_CASES) and res.n_failed == len(failing)
    assert [i for i, it in enumerate(res.items) if it is None] == sorted(res.errors["index"])
    assert f"{res.n_ok} loaded, {len(failing)} failed (of {len(AUDIO_CASES)})" in res.summary()
    # every reason says what was wrong, without repeating the path
    assert all(r and not r.startswith("/") for r in res.errors["reason"])


def test_strict_batch_stops_at_the_first_bad_file(corpus):
    paths = [corpus["8khz"], corpus["zero_length"], corpus["nan_samples"]]
    seen = []

    def loader(p: Path):
        seen.append(p)
        return load_clip(p)

    with pytest.raises(BatchError, match=r"zero\.wav: file is empty") as info:
        run_batch(paths, loader, strict=True)
    assert info.value.path == str(corpus["zero_length"])
    assert seen == paths[:2]


def test_check_media_tabulates_quality_and_errors(corpus, tmp_path: Path):
    names = ["8khz", "silent", "nan_samples", "missing"]
    faces = [write_image(tmp_path / "f.png"), None, None, tmp_path / "nope.png"]
    quality, errors = check_media([corpus[n] for n in names], faces)
    assert list(quality["index"]) == [0, 1, 2, 3]
    assert quality.loc[1, "flags"] == "silent"
    assert np.isnan(quality.loc[2, "duration_s"])
    assert errors[["index", "kind"]].values.tolist() == [[2, "audio"], [3, "audio"], [3, "face"]]


def test_unreadable_file_as_unprivileged_user(tmp_path: Path):
    """Run the loader as `nobody` on a mode-000 file: it reports the permission problem."""
    if os.geteuid() != 0:
        target = _chmod000(tmp_path)
        with pytest.raises(DataFormatError, match="no permission to read"):
            load_clip(target)
        return
    d = Path("/tmp") / f"s2f_perm_{os.getpid()}"
    d.mkdir(mode=0o755, exist_ok=True)
    try:
        d.chmod(0o755)
        target = _chmod000(d)
        code = textwrap.dedent(f"""
            import os, sys
            from s2f_data import DataFormatError, assess_audio
            import soundfile  # everything imported before dropping privileges
            os.setgid(65534); os.setuid(65534)
            try:
                assess_audio({str(target)!r})
            except DataFormatError as err:
                print(err)
                sys.exit(0)
            sys.exit(3)
        """)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]), OMP_NUM_THREADS="1")
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"{target}: no permission to read the file"
    finally:
        for p in d.iterdir():
            p.unlink()
        d.rmdir()


# ------------------------------------------------------------------------------ faces
def _corrupt_png(d: Path) -> Path:
    good = write_image(d / "_good.png", size=(64, 64))
    data = bytearray(good.read_bytes())
    (d / "corrupt.png").write_bytes(bytes(data[: len(data) // 2]))
    return d / "corrupt.png"


def _crc_png(d: Path) -> Path:
    good = write_image(d / "_good2.png", size=(64, 64))
    data = bytearray(good.read_bytes())
    data[60] ^= 0xFF  # inside the IDAT payload: zlib or CRC failure
    (d / "badcrc.png").write_bytes(bytes(data))
    return d / "badcrc.png"


def _p_transparent(d: Path) -> Path:
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 10, 20))
    img.save(d / "pal.png", transparency=0)
    return d / "pal.png"


def _i16(d: Path) -> Path:
    arr = np.full((16, 16), 65535, dtype=np.uint16)
    arr[:, :8] = 0
    Image.fromarray(arr).save(d / "deep.png")
    return d / "deep.png"


FACE_CASES = [
    Case("grayscale", lambda d: write_image(d / "gray.png", "L")),
    Case("rgba", lambda d: write_image(d / "rgba.png", "RGBA")),
    Case("la", lambda d: write_image(d / "la.png", "LA")),
    Case("palette_transparency", _p_transparent),
    Case("cmyk_jpeg", lambda d: write_image(d / "cmyk.jpg", "CMYK")),
    Case("one_bit", lambda d: write_image(d / "bw.png", "1")),
    Case("sixteen_bit", _i16),
    Case("truncated_png", _corrupt_png, error="cannot decode face image"),
    Case("bad_crc_png", _crc_png, error="cannot decode face image"),
    Case("text_as_png", _bytes("text.png", b"not an image"), error="cannot decode face image"),
    Case("missing_face", lambda d: d / "none.png", error="face image not found"),
    Case("video_face", lambda d: write_mp4(d / "face.mp4", seconds=0.5)),
]


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad_faces")
    return {c.name: c.make(d) for c in FACE_CASES}


@pytest.mark.parametrize("case", FACE_CASES, ids=lambda c: c.name)
def test_each_face_input(faces, case: Case):
    path = faces[case.name]
    if case.error is not None:
        with pytest.raises(DataFormatError, match=f"^{re.escape(str(path))}: .*({case.error})"):
            load_face(path, 32)
        return
    img = load_face(path, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8


def test_face_batch_never_stops(faces):
    paths = [faces[c.name] for c in FACE_CASES]
    res = load_face_batch(paths, 32)
    assert set(res.errors["path"]) == {str(faces[c.name]) for c in FACE_CASES if c.error}
    assert all(res.items[i].shape == (32, 32, 3) for i in res.ok_indices)


def test_specific_face_conversions(faces):
    gray = load_face(faces["grayscale"], 30, fit="resize")
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    pal = load_face(faces["palette_transparency"], 20)
    np.testing.assert_array_equal(pal[10, 2], [255, 0, 0])  # opaque red half
    np.testing.assert_array_equal(pal[10, 17], [255, 255, 255])  # transparent -> white
    deep = load_face(faces["sixteen_bit"], 16)
    assert deep[8, 1].tolist() == [0, 0, 0] and deep[8, 14].tolist() == [255, 255, 255]
