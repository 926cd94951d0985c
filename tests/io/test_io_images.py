"""load_image on every odd mode and every kind of bad file; resize_and_crop geometry."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.io import load_image, resize_and_crop


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_rgb_png_exact_from_path_bytes_and_pil(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    data = encode(Image.fromarray(arr))
    (tmp_path / "a.png").write_bytes(data)
    for source in (tmp_path / "a.png", str(tmp_path / "a.png"), data, Image.open(io.BytesIO(data))):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (7, 11, 3)
        np.testing.assert_array_equal(out, arr)


def test_alpha_modes_composite_over_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent -> white
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    rgba[1, 1] = (0, 0, 255, 255)
    out = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert abs(int(out[1, 0, 0]) - 127) <= 1 and len(set(out[1, 0])) == 1
    assert tuple(out[1, 1]) == (0, 0, 255)
    la = Image.fromarray(np.array([[[10, 255], [10, 0]]], np.uint8), "LA")
    np.testing.assert_array_equal(load_image(encode(la))[0], [[10, 10, 10], [255, 255, 255]])


def test_palette_with_and_without_transparency():
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putdata([0, 1])
    np.testing.assert_array_equal(load_image(encode(pal))[0], [[255, 0, 0], [0, 255, 0]])
    out = load_image(encode(pal, transparency=0))  # index 0 transparent -> white
    np.testing.assert_array_equal(out[0], [[255, 255, 255], [0, 255, 0]])


def test_grayscale_bilevel_cmyk_16bit_float():
    gray = Image.fromarray(np.array([[0, 100, 255]], np.uint8), "L")
    np.testing.assert_array_equal(load_image(encode(gray))[0], np.repeat([[0], [100], [255]], 3, axis=1))
    bilevel = Image.new("1", (2, 1))
    bilevel.putpixel((1, 0), 1)
    np.testing.assert_array_equal(load_image(encode(bilevel))[0], [[0, 0, 0], [255, 255, 255]])
    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(encode(cmyk, "JPEG", quality=100))
    assert out.shape == (1, 1, 3) and out[0, 0, 0] > 240 and out[0, 0, 1] < 15 and out[0, 0, 2] < 15
    sixteen = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.uint16))
    assert sixteen.mode == "I;16"
    np.testing.assert_array_equal(load_image(encode(sixteen))[:, :, 0], [[0, 100, 255]])
    as_int32 = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.int32), "I")
    np.testing.assert_array_equal(load_image(as_int32)[:, :, 1], [[0, 100, 255]])
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
    np.testing.assert_array_equal(load_image(floats)[:, :, 2], [[0, 128, 255]])


def test_exif_orientation_applied():
    arr = np.zeros((2, 4, 3), np.uint8)
    arr[:, 0] = 255  # white left column
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(Image.fromarray(arr), "JPEG", quality=100, exif=exif.tobytes())
    out = load_image(data)
    assert out.shape == (4, 2, 3)  # displayed upright: portrait
    assert out[0].mean() > 200 and out[-1].mean() < 50  # left column became the top row


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = load_image(buf.getvalue())
    assert out.shape == (4, 4, 3) and out[0, 0, 0] > 200 and out[0, 0, 2] < 50


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_rejected(fmt):
    rng = np.random.default_rng(1)
    data = encode(Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)), fmt)
    with pytest.raises(InvalidInputError, match="truncated or damaged"):
        load_image(data[: len(data) // 2])


def test_not_an_image_rejected(tmp_path):
    with pytest.raises(InvalidInputError, match="not a readable image"):
        load_image(b"hello, this is plain text and not a picture")
    with pytest.raises(InvalidInputError, match="empty"):
        load_image(b"")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(InvalidInputError, match="file path, bytes or a PIL image"):
        load_image(12345)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny (well under 1 KB) PNG whose header declares ``width x height`` grayscale pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [8_000, 50_000, 200_000])  # 64 MP (our limit), 2.5 GP and 40 GP (PIL's)
def test_decompression_bomb_rejected(side):
    data = png_declaring(side, side)
    assert len(data) < 200
    with pytest.raises(InvalidInputError, match="pixel|decompression bomb"):
        load_image(data)


def test_limits_are_configurable():
    data = encode(Image.new("RGB", (20, 10)))
    with pytest.raises(InvalidInputError, match="over the 100-pixel limit"):
        load_image(data, max_pixels=100)
    with pytest.raises(InvalidInputError, match="over the 10-byte limit"):
        load_image(data, max_bytes=10)
    assert load_image(data, max_pixels=200).shape == (10, 20, 3)


def test_resize_and_crop_cover_then_centre():
    arr = np.zeros((10, 40, 3), np.uint8)
    arr[:, 15:25] = 255  # a white band in the middle
    out = resize_and_crop(arr, 20, 20)  # 40x10 -> cover 80x20 -> crop the centre 20 columns
    assert out.shape == (20, 20, 3)
    assert out[:, 6:14].min() > 200  # the band (scaled to columns 30..50 of 80) spans the crop's centre
    tall = resize_and_crop(arr, 8, 32)
    assert tall.shape == (32, 8, 3)
    assert resize_and_crop(arr, 40, 10) is arr  # already the right size
    assert load_image(encode(Image.fromarray(arr)), width=16, height=9).shape == (9, 16, 3)
    assert load_image(encode(Image.fromarray(arr)), width=20).shape == (5, 20, 3)
    with pytest.raises(InvalidInputError, match="width must be a positive integer"):
        resize_and_crop(arr, 0, 10)
    with pytest.raises(InvalidInputError, match=r"uint8 \(H, W, 3\)"):
        resize_and_crop(arr.astype(np.float32), 10, 10)


def test_arrays_are_writable():
    data = encode(Image.new("RGB", (8, 6)))
    assert load_image(data).flags.writeable
    assert load_image(data, width=4, height=4).flags.writeable
    assert load_image(data, width=4).flags.writeable


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_load_image_at_a_size_decodes_near_it_and_matches_the_full_decode(fmt):
    """Issue 29, defect 3: with a target size the image is decoded near it (JPEG's DCT draft, a box reduce
    for others) — the result stays what the full decode, resized, gives."""
    y, x = np.mgrid[0:900, 0:1200]
    arr = np.stack([x * 255 // 1199, y * 255 // 899, (x + y) * 255 // 2098], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, quality=95)
    near = load_image(buf.getvalue(), 40, 30).astype(int)
    full = resize_and_crop(load_image(buf.getvalue()), 40, 30).astype(int)
    assert near.shape == (30, 40, 3)
    assert np.abs(near - full).mean() < 2.0
