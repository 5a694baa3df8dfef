"""Face images (modes, geometry, EXIF) and video frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from s2fdata_media import write_mp4

from s2f_data import (
    DataFormatError,
    crop_around,
    load_face,
    prepare_face,
    save_frame,
    to_rgb,
    video_frame,
    video_info,
)


def _gradient(w: int, h: int) -> np.ndarray:
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
    arr[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
    return arr


def test_crop_fit_without_scaling_is_the_centre_slice():
    arr = _gradient(100, 50)
    np.testing.assert_array_equal(prepare_face(arr, 50, "crop"), arr[:, 25:75])
    tall = _gradient(40, 90)
    np.testing.assert_array_equal(prepare_face(tall, 40, "crop"), tall[25:65])


def test_pad_fit_keeps_whole_image_and_pads_with_background():
    arr = _gradient(40, 20)
    out = prepare_face(arr, 40, "pad", background=(7, 8, 9))
    np.testing.assert_array_equal(out[10:30], arr)
    assert (out[:10] == [7, 8, 9]).all() and (out[30:] == [7, 8, 9]).all()


def test_resize_fit_and_shape_contract():
    out = prepare_face(_gradient(64, 16), 32, "resize")
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match=r"fit must be one of \['crop', 'pad', 'resize'\]"):
        prepare_face(_gradient(4, 4), 4, "stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected a uint8 array"):
        prepare_face(np.zeros((4, 4, 2), dtype=np.uint8), 4)


def test_rgba_is_composited_over_background():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 0)  # transparent
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black over white
    out = np.asarray(to_rgb(Image.fromarray(rgba, "RGBA"), background=(255, 255, 255)))
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert abs(int(out[1, 0, 0]) - 127) <= 1


def test_float_and_32bit_grey_modes_are_scaled():
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    assert np.asarray(to_rgb(f))[0, :, 0].tolist() == [0, 128, 255]
    i = Image.fromarray(np.array([[0, 200, 255]], dtype=np.int32), "I")
    assert np.asarray(to_rgb(i))[0, :, 0].tolist() == [0, 200, 255]


def test_exif_orientation_is_applied(tmp_path: Path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 3  # rotate 180 degrees for display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    out = load_face(tmp_path / "rot.jpg", 20, fit="pad")
    assert out[10, 2, 0] < 60 and out[10, 17, 0] > 200  # red is now on the right


def test_crop_around_stays_inside_the_image():
    arr = _gradient(100, 50)
    patch = crop_around(arr, 0.5, 0.5, 0.4)
    assert patch.shape == (20, 20, 3) and patch[0, 0, 0] == 40 and patch[0, 0, 1] == 15
    corner = crop_around(arr, 0.0, 1.0, 0.4)
    assert corner[0, 0, 0] == 0 and corner[-1, 0, 1] == 49
    with pytest.raises(ValueError, match=r"face centre must be in \[0, 1\], got \(1.2, 0.5\)"):
        crop_around(arr, 1.2, 0.5, 0.4)


# ------------------------------------------------------------------------------- video
@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_mp4(tmp_path_factory.mktemp("video") / "v.mp4", seconds=1.0, fps=10, size=(64, 48))


def test_video_info(video: Path):
    info = video_info(video)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 48, 10.0, True)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("t", "frame"), [(0.0, 0), (0.05, 0), (0.1, 1), (0.35, 3), (0.99, 9), (None, 5)]
)
def test_video_frame_at_time(video: Path, t: float | None, frame: int):
    img = video_frame(video, t)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert abs(int(img[40, 40, 0]) - 20 * frame) <= 4  # frame k is grey level 20k
    assert img[2, 2].tolist()[0] > 240 and img[2, 2].tolist()[2] < 15  # red corner: RGB order


@pytest.mark.parametrize("t", [float("nan"), float("inf"), -0.5])
def test_video_frame_refuses_a_time_that_is_no_time(video: Path, t: float):
    # NaN compared false with everything and silently gave some frame
    with pytest.raises(ValueError, match=r"time_s must be a finite number of seconds >= 0"):
        video_frame(video, t)


def test_video_frame_past_the_end(video: Path):
    with pytest.raises(DataFormatError, match=r"v\.mp4: time 5 s is past the end"):
        video_frame(video, 5.0)


def test_save_frame_crop(video: Path, tmp_path: Path):
    out = save_frame(video, tmp_path / "f" / "x.png", 0.35, centre=(0.5, 0.5), side_fraction=0.5)
    with Image.open(out) as img:
        assert img.size == (24, 24) and img.mode == "RGB"
        assert abs(img.getpixel((12, 12))[0] - 60) <= 4


def test_load_face_from_video(video: Path):
    face = load_face(video, 16, time_s=0.5)
    assert face.shape == (16, 16, 3)
    assert abs(int(face[12, 12, 1]) - 100) <= 4
