"""Real MP4 files in tmp_path: round trips, odd sizes, streaming, atomic writes, probe, thumbnails."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.io import (
    AIGCLabel,
    VideoWriter,
    iter_video_frames,
    probe_video,
    read_aigc_label,
    read_video,
    write_spritesheet,
    write_thumbnail,
    write_video,
)


def smooth_video(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth moving gradients (what generated videos look like to a codec): uint8 (T, H, W, 3)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for k in range(t):
        channels = [
            127.5 + 80 * np.sin(2 * np.pi * (xx / 128 + yy / 192) + phase[c] + 0.3 * k) for c in range(3)
        ]
        frames.append(np.stack(channels, axis=-1))
    return np.clip(np.round(np.stack(frames)), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_round_trip_smooth_content(tmp_path):
    frames = smooth_video(9, 48, 64)
    path = write_video(tmp_path / "a.mp4", frames, fps=24)
    decoded, fps = read_video(path)
    assert decoded.shape == (9, 48, 64, 3) and decoded.dtype == np.uint8
    assert fps == 24.0
    # crf 18 + 4:2:0 chroma on smooth content: measured MAE 2.0, PSNR 39.8 dB (most of the error is the
    # chroma subsampling that yuv420p needs; crf 0 gives nearly the same numbers).
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 3.0
    assert psnr(decoded, frames) > 35.0
    # The MP4 is H.264 in yuv420p with the index at the front (faststart: 'moov' before 'mdat').
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")


def test_torch_uint8_input_matches_numpy(tmp_path):
    frames = smooth_video(5, 32, 32)
    write_video(tmp_path / "np.mp4", frames, fps=8, label=None)
    write_video(tmp_path / "pt.mp4", torch.from_numpy(frames), fps=8, label=None)
    np.testing.assert_array_equal(read_video(tmp_path / "np.mp4")[0], read_video(tmp_path / "pt.mp4")[0])


@pytest.mark.parametrize("size", [(33, 17), (17, 32), (31, 31), (1, 1)])
def test_odd_sizes_round_trip(tmp_path, size):
    w, h = size
    frames = smooth_video(5, h, w)
    path = write_video(tmp_path / "odd.mp4", frames, fps=12)
    decoded, _ = read_video(path)
    assert decoded.shape == (5, h, w, 3)
    info = probe_video(path)
    assert (info.width, info.height) == (w, h)
    assert next(iter_video_frames(path)).shape == (h, w, 3)
    if w * h > 100:  # content check where there are enough pixels for a meaningful average
        assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 4.0


def test_probe(tmp_path):
    path = write_video(tmp_path / "p.mp4", smooth_video(10, 16, 24), fps=20)
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (24, 16, 10)
    assert info.fps == pytest.approx(20.0)
    assert info.duration == pytest.approx(0.5)


def test_ntsc_frame_rate_is_exact(tmp_path):
    path = write_video(tmp_path / "ntsc.mp4", smooth_video(3, 16, 16), fps=29.97)
    assert probe_video(path).fps == pytest.approx(29.97, abs=1e-9)


def test_label_in_mp4_by_default_and_custom(tmp_path):
    frames = smooth_video(3, 16, 16)
    first = read_aigc_label(write_video(tmp_path / "a.mp4", frames, fps=8))
    second = read_aigc_label(write_video(tmp_path / "b.mp4", frames, fps=8))
    assert first.Label == "1" and first.ContentProducer == "Kinema"
    assert first.ProduceID and first.ProduceID != second.ProduceID  # a fresh id per file
    custom = AIGCLabel(ContentProducer="某公司", ProduceID="job-42", ReservedCode1="sig")
    assert read_aigc_label(write_video(tmp_path / "c.mp4", frames, fps=8, label=custom)) == custom
    assert read_aigc_label(write_video(tmp_path / "d.mp4", frames, fps=8, label=None)) is None
    # The tag is really in the file bytes as the standard's key (not only in PyAV's view of it).
    assert b"AIGC" in (tmp_path / "a.mp4").read_bytes()


def test_streaming_writer_equals_write_video(tmp_path):
    frames = smooth_video(13, 24, 40)
    write_video(tmp_path / "whole.mp4", frames, fps=10, label=None)
    with VideoWriter(tmp_path / "chunks.mp4", fps=10, width=40, height=24, label=None) as writer:
        for start in range(0, 13, 3):  # chunks of 3,3,3,3,1
            writer.write(frames[start : start + 3])
    assert writer.frames_written == 13
    # The encoder runs one thread (EncodeSettings.threads), which makes x264 deterministic for the same input
    # and settings even under CPU load, so chunking must not change a single pixel.
    np.testing.assert_array_equal(
        read_video(tmp_path / "chunks.mp4")[0], read_video(tmp_path / "whole.mp4")[0]
    )


def test_same_frames_encode_to_identical_bytes(tmp_path):
    # With FFmpeg's default frame threads this held only on an idle CPU (issue 18); one thread makes it hold.
    frames = smooth_video(13, 24, 40)
    files = {write_video(tmp_path / f"{i}.mp4", frames, fps=10, label=None).read_bytes() for i in range(6)}
    assert len(files) == 1


def test_writer_accepts_single_frames(tmp_path):
    frames = smooth_video(4, 16, 16)
    with VideoWriter(tmp_path / "s.mp4", fps=4, width=16, height=16) as writer:
        for frame in frames:
            writer.write(frame)
    assert probe_video(tmp_path / "s.mp4").num_frames == 4


def test_atomic_write_keeps_old_file_on_exception(tmp_path):
    target = tmp_path / "out.mp4"
    write_video(target, smooth_video(3, 16, 16), fps=8)
    old_bytes = target.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(target, fps=8, width=16, height=16) as writer:
            writer.write(smooth_video(4, 16, 16, seed=1))
            assert target.read_bytes() == old_bytes  # nothing appears at the target mid-write
            raise RuntimeError("boom")
    assert target.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temp file left behind


def test_atomic_write_bad_chunk_mid_stream(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(InvalidInputError, match="opened for 16x16"):
        with VideoWriter(target, fps=8, width=16, height=16) as writer:
            writer.write(smooth_video(2, 16, 16))
            writer.write(smooth_video(2, 16, 20))
    assert list(tmp_path.iterdir()) == []


def test_writer_dropped_without_close_leaves_nothing(tmp_path):
    import gc

    writer = VideoWriter(tmp_path / "dropped.mp4", fps=8, width=16, height=16)
    writer.write(smooth_video(60, 16, 16))  # past x264's lookahead, so packets reach the file
    assert len(list(tmp_path.iterdir())) == 1  # the hidden temp file, while writing
    del writer
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_writer_with_no_frames_is_an_error(tmp_path):
    with pytest.raises(InvalidInputError, match="No frames"):
        with VideoWriter(tmp_path / "empty.mp4", fps=8, width=16, height=16):
            pass
    assert list(tmp_path.iterdir()) == []


def test_replaces_existing_file(tmp_path):
    target = tmp_path / "out.mp4"
    write_video(target, smooth_video(3, 16, 16), fps=8)
    write_video(target, smooth_video(7, 16, 16), fps=8)
    assert probe_video(target).num_frames == 7


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((16, 16, 3), np.uint8), r"\(T, H, W, 3\)"),  # rank 3
        (np.zeros((1, 2, 16, 16, 3), np.uint8), "one video at a time"),  # rank 5 batch
        (np.zeros((2, 16, 16, 4), np.uint8), "drop alpha"),
        (np.zeros((2, 3, 16, 16), np.uint8), "channels-first"),
        (np.full((2, 16, 16, 3), 300.0, np.float32), "must be uint8"),
        (np.zeros((2, 16, 16, 3), np.float32), "must be uint8"),
        (torch.zeros(2, 16, 16, 3), "must be uint8"),
        (np.zeros((0, 16, 16, 3), np.uint8), "non-empty"),
        ([[[[0, 0, 0]]]], "numpy array or torch tensor"),
    ],
)
def test_bad_frames_rejected(tmp_path, frames, match):
    with pytest.raises(InvalidInputError, match=match):
        write_video(tmp_path / "bad.mp4", frames, fps=8)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_rejected(tmp_path):
    frames = smooth_video(2, 16, 16)
    with pytest.raises(InvalidInputError, match="fps"):
        write_video(tmp_path / "a.mp4", frames, fps=0)
    with pytest.raises(InvalidInputError, match=".mp4"):
        write_video(tmp_path / "a.avi", frames, fps=8)
    with pytest.raises(InvalidInputError, match="crf"):
        write_video(tmp_path / "a.mp4", frames, fps=8, crf=99)
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(InvalidInputError, match="not a readable video"):
        probe_video(tmp_path / "junk.mp4")


def test_thumbnail_from_path_png_carries_video_label(tmp_path):
    frames = smooth_video(9, 17, 33)
    video = write_video(tmp_path / "v.mp4", frames, fps=8)
    thumb = write_thumbnail(video, tmp_path / "t.png")
    img = np.asarray(Image.open(thumb))
    assert img.shape == (17, 33, 3)
    decoded, _ = read_video(video)
    np.testing.assert_array_equal(img, decoded[4])  # the middle frame, exactly (PNG is lossless)
    assert read_aigc_label(thumb) == read_aigc_label(video)  # same ProduceID as the video


def test_thumbnail_from_frames_first_and_jpeg(tmp_path):
    frames = smooth_video(5, 32, 48)
    png = write_thumbnail(frames, tmp_path / "first.png", frame="first")
    np.testing.assert_array_equal(np.asarray(Image.open(png)), frames[0])
    jpg = write_thumbnail(frames, tmp_path / "t.jpg", width=24)
    assert Image.open(jpg).size == (24, 16)
    label = read_aigc_label(jpg)
    assert label is not None and label.Label == "1"
    with pytest.raises(InvalidInputError, match="frame must be"):
        write_thumbnail(frames, tmp_path / "x.png", frame=5)


def test_spritesheet_dims_and_tiles(tmp_path):
    frames = smooth_video(10, 16, 24)
    sheet = write_spritesheet(frames, tmp_path / "s.png", columns=3, rows=2)
    arr = np.asarray(Image.open(sheet))
    assert arr.shape == (2 * 16, 3 * 24, 3)
    # Tiles are frames 0, 2, 4, 5, 7, 9 (evenly spaced, first and last included), row-major.
    for k, idx in enumerate([0, 2, 4, 5, 7, 9]):
        r, c = divmod(k, 3)
        np.testing.assert_array_equal(arr[r * 16 : (r + 1) * 16, c * 24 : (c + 1) * 24], frames[idx])
    video = write_video(tmp_path / "v.mp4", frames, fps=8)
    small = write_spritesheet(video, tmp_path / "s.jpg", columns=4, rows=4, tile_width=12)
    assert Image.open(small).size == (4 * 12, 4 * 8)
    assert read_aigc_label(small) == read_aigc_label(video)


def test_display_rotation_is_applied(tmp_path):
    """A phone's portrait video: landscape frames + a 90-degree display matrix, read back as portrait."""
    import av

    coded = np.zeros((3, 16, 32, 3), np.uint8)
    coded[:, :, :4] = 255  # a white strip on the coded frame's left edge
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        stream.set_display_rotation(90)  # counter-clockwise, as PyAV and ffmpeg define it
        for i, rgb in enumerate(coded):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe_video(path)
    assert (info.width, info.height) == (16, 32)
    frames, _ = read_video(path)
    assert frames.shape == (3, 32, 16, 3)
    # Turned a quarter counter-clockwise, the left edge becomes the bottom edge.
    assert frames[0, -3:].mean() > 200 and frames[0, :20].mean() < 30
