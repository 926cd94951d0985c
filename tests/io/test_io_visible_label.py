"""The visible GB 45438-2025 mark on real encodes: there in the opening frames when asked (pixels against
the same frames encoded without it), absent when not, in the playback corner afterwards, streamed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.io import (
    VideoWriter,
    VisibleLabel,
    read_aigc_label,
    read_video,
    save_labelled_image,
    write_spritesheet,
    write_thumbnail,
    write_video,
)
from kinema.io.visible_label import MIN_CJK_PX, Mark


def smooth(t: int, h: int, w: int) -> np.ndarray:
    """Bright smooth gradients, so a dark box with white text stands out and the codec is near lossless."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = [
        np.stack([150 + 60 * np.sin(xx / 40 + 0.2 * k), 170 + 50 * np.cos(yy / 30), 160 + 0 * xx], axis=-1)
        for k in range(t)
    ]
    return np.clip(np.round(np.stack(out)), 0, 255).astype(np.uint8)


def region_diff(a: np.ndarray, b: np.ndarray, mark: Mark) -> float:
    ys, xs = mark.region()
    return float(np.abs(a[ys, xs].astype(np.int16) - b[ys, xs].astype(np.int16)).mean())


def text_rows(mark: Mark) -> int:
    """Rows of the mark that hold text (at least a quarter-covered pixel of white ink): the text's height in
    pixels (both lines' together)."""
    return int((mark.ink[..., 0] > 64).any(axis=1).sum())


# (width, height, fps): the smallest Kinema size and Wan's 832x480 (fps 2 keeps that encode short)
SIZES = [(64, 64, 8), (832, 480, 2)]


@pytest.mark.parametrize("width, height, fps", SIZES, ids=["64x64", "832x480"])
def test_opening_frames_carry_the_mark_only_when_asked(tmp_path, width, height, fps):
    frames = smooth(3 * fps, height, width)  # 3 s: 2 s opening, then 1 s of playback
    write_video(tmp_path / "plain.mp4", frames, fps)
    write_video(tmp_path / "marked.mp4", frames, fps, visible_label=VisibleLabel())
    plain, _ = read_video(tmp_path / "plain.mp4")
    marked, _ = read_video(tmp_path / "marked.mp4")
    marks = VisibleLabel().for_video(width, height, fps)
    assert marks.opening_frames == 2 * fps
    first, later = 0, 2 * fps + 1
    # no mark asked: the encode matches its frames in both corners (the control)
    assert region_diff(plain[first], frames[first], marks.opening) < 4
    assert region_diff(plain[later], frames[later], marks.playback) < 4
    # asked: the opening mark in the first 2 s, then the corner mark instead
    assert region_diff(marked[first], plain[first], marks.opening) > 40
    assert region_diff(marked[2 * fps - 1], plain[2 * fps - 1], marks.opening) > 40
    assert region_diff(marked[later], plain[later], marks.opening) < 4
    assert region_diff(marked[later], plain[later], marks.playback) > 40
    assert read_aigc_label(tmp_path / "marked.mp4") is not None  # the implicit label too


def test_no_corner_mark_after_the_opening_when_switched_off(tmp_path):
    frames = smooth(24, 64, 64)
    label = VisibleLabel(during_playback=False)
    write_video(tmp_path / "a.mp4", frames, 8, visible_label=label)
    write_video(tmp_path / "b.mp4", frames, 8)
    a, _ = read_video(tmp_path / "a.mp4")
    b, _ = read_video(tmp_path / "b.mp4")
    marks = VisibleLabel().for_video(64, 64, 8)
    assert region_diff(a[0], b[0], marks.opening) > 40
    for i in range(16, 24):  # the rest: as unmarked, to codec noise (they are predicted from marked frames)
        assert region_diff(a[i], b[i], marks.playback) < 4 and region_diff(a[i], b[i], marks.opening) < 4


def test_mark_is_legible_at_both_sizes():
    small = VisibleLabel().for_video(64, 64, 8)
    large = VisibleLabel().for_video(832, 480, 16)
    assert text_rows(small.opening) >= MIN_CJK_PX and text_rows(small.playback) >= MIN_CJK_PX
    assert small.opening.ceiling.shape[:2] == (20, 44)  # the Chinese line alone: English would be unreadable
    assert text_rows(large.playback) >= 0.05 * 480  # the standard's 5 % of the shortest side
    assert text_rows(large.opening) > 1.4 * 0.08 * 480  # two lines: 生成 at 8 %, AI-generated beneath
    for mark in (small.opening, small.playback, large.opening, large.playback):  # inside the frame
        ys, xs = mark.region()
        assert ys.start >= 0 and xs.start >= 0


def test_streamed_chunks_mark_the_same_frames_as_one_write(tmp_path):
    frames = smooth(20, 48, 64)
    before = frames.copy()
    write_video(tmp_path / "once.mp4", frames, 8, visible_label=VisibleLabel())
    with VideoWriter(tmp_path / "chunks.mp4", 8, 64, 48, visible_label=VisibleLabel()) as writer:
        for chunk in np.split(frames, [5, 15, 16]):  # the opening ends (frame 16) inside a chunk
            writer.write(chunk)
    np.testing.assert_array_equal(frames, before)  # the caller's frames are never drawn on
    once, _ = read_video(tmp_path / "once.mp4")
    chunks, _ = read_video(tmp_path / "chunks.mp4")
    # The same mark on the same frames (a misplaced one differs by > 40 on average; x264 itself is not
    # always bit-exact under load, so compare to codec noise, not bits).
    marks = VisibleLabel().for_video(64, 48, 8)
    for i in range(20):
        assert region_diff(once[i], chunks[i], marks.opening) < 4, i
        assert region_diff(once[i], chunks[i], marks.playback) < 4, i
    assert region_diff(chunks[15], frames[15], marks.opening) > 40  # the last opening frame
    assert region_diff(chunks[16], frames[16], marks.playback) > 40  # the first playback frame


def test_marking_a_marked_video_again_changes_nothing(tmp_path):
    """An extension writes its source's (already marked) frames through a marking writer again; so does
    any edit of a Kinema video. The mark must not come out twice (a second, darker box)."""
    frames = smooth(24, 64, 64)
    marks = VisibleLabel().for_video(64, 64, 8)
    once = marks.apply(frames, 0)
    np.testing.assert_array_equal(marks.apply(once, 0), once)  # in memory: exactly the same
    write_video(tmp_path / "marked.mp4", frames, 8, visible_label=VisibleLabel())
    decoded, _ = read_video(tmp_path / "marked.mp4")
    write_video(tmp_path / "again.mp4", decoded, 8, visible_label=VisibleLabel())
    again, _ = read_video(tmp_path / "again.mp4")
    for i, mark in ((0, marks.opening), (15, marks.opening), (16, marks.playback), (23, marks.playback)):
        assert region_diff(decoded[i], frames[i], mark) > 40, i  # the source does carry the mark
        assert region_diff(again[i], decoded[i], mark) < 4, i  # and marking it again adds nothing


def test_images_carry_the_mark_when_asked(tmp_path):
    frame = smooth(1, 120, 160)[0]
    img = Image.fromarray(frame)
    save_labelled_image(img, tmp_path / "plain.png", None)
    save_labelled_image(img, tmp_path / "marked.png", None, visible_label=VisibleLabel())
    save_labelled_image(img, tmp_path / "marked.jpg", None, visible_label=VisibleLabel())
    mark = VisibleLabel().for_video(160, 120, 1).opening
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "plain.png")), frame)  # PNG: lossless
    assert region_diff(np.asarray(Image.open(tmp_path / "marked.png")), frame, mark) > 40
    assert region_diff(np.asarray(Image.open(tmp_path / "marked.jpg")), frame, mark) > 40


def test_thumbnail_and_sprite_sheet_carry_one_mark(tmp_path):
    frames = smooth(8, 48, 64)
    write_thumbnail(frames, tmp_path / "t.png", visible_label=VisibleLabel())
    write_spritesheet(frames, tmp_path / "s.png", columns=2, rows=2, visible_label=VisibleLabel())
    write_spritesheet(frames, tmp_path / "plain.png", columns=2, rows=2)
    thumb = np.asarray(Image.open(tmp_path / "t.png"))
    assert region_diff(thumb, frames[3], VisibleLabel().for_video(64, 48, 1).opening) > 40
    sheet, plain = np.asarray(Image.open(tmp_path / "s.png")), np.asarray(Image.open(tmp_path / "plain.png"))
    sheet_mark = VisibleLabel().for_video(128, 96, 1).opening
    assert region_diff(sheet, plain, sheet_mark) > 40
    np.testing.assert_array_equal(sheet[48:, 64:], plain[48:, 64:])  # marked once, not per tile


def test_bad_settings_are_refused():
    with pytest.raises(InvalidInputError, match="opening_seconds"):
        VisibleLabel(opening_seconds=-1)
    with pytest.raises(InvalidInputError, match="box_opacity"):
        VisibleLabel(box_opacity=0)
    with pytest.raises(InvalidInputError, match="visible_label must be a VisibleLabel"):
        VideoWriter("x.mp4", 8, 64, 64, visible_label=True)
