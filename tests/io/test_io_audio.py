"""Sound in Kinema's MP4s (issue 28): an AAC track beside the H.264 picture, streamed and atomic like the
frames, read back by PyAV; thumbnails and sprite sheets unaffected; the C2PA hash covers the sound; `kinema
inspect` lists the track."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.io import (
    VideoWriter,
    load_signing_identity,
    probe_audio,
    probe_video,
    read_audio,
    read_provenance,
    read_video,
    sign_file,
    write_spritesheet,
    write_thumbnail,
    write_video,
)
from kinema.io.video import resample_audio

RATE = 24_000
SLACK = 8  # samples: FFmpeg's AAC encoder records a track's length to within 8 (kinema/io/video.py)


def frames(t: int = 12, size: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return np.stack(
        [np.stack([(x * 8 + i * 9) % 256, y * 8 % 256, (x + y) * 4 % 256], -1) for i in range(t)]
    ).astype(np.uint8)


def tone(seconds: float, hz: float = 440.0, rate: int = RATE, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * hz * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def test_both_streams_decode_at_the_expected_rate_and_length(tmp_path):
    out = write_video(tmp_path / "a.mp4", frames(12), 24, audio=tone(0.5), audio_rate=RATE)
    info = probe_audio(out)
    assert (info.codec, info.sample_rate, info.channels) == ("aac", RATE, 2)
    assert info.duration == pytest.approx(0.5, abs=1e-3) == probe_video(out).duration
    samples, rate = read_audio(out)
    assert rate == RATE and samples.shape == (2, 12_000)
    # AAC keeps the tones: left 440 Hz, right 880 Hz, each at its own frequency after decoding
    spectrum = np.abs(np.fft.rfft(samples[:, 2048:10240], axis=1))  # (2, bins), 8192 samples: 2.93 Hz a bin
    peaks = spectrum.argmax(axis=1) * RATE / 8192
    assert peaks == pytest.approx([440, 880], abs=3)
    np.testing.assert_allclose(samples[:, 2048:10240], tone(0.5)[:, 2048:10240], atol=0.02)
    assert read_video(out)[0].shape == (12, 32, 32, 3)


def test_mono_sound_is_a_mono_track(tmp_path):
    out = write_video(tmp_path / "m.mp4", frames(6), 12, audio=tone(0.5, channels=1)[0], audio_rate=16_000)
    assert (probe_audio(out).channels, probe_audio(out).sample_rate) == (1, 16_000)


def test_streamed_sound_in_pieces_equals_one_piece(tmp_path):
    sound = tone(0.5)
    whole = write_video(tmp_path / "whole.mp4", frames(12), 24, audio=sound, audio_rate=RATE)
    with VideoWriter(tmp_path / "parts.mp4", 24, 32, 32, audio_rate=RATE) as writer:
        for i in range(12):  # a frame and its 1/24 s of sound at a time, as a generation streams them
            writer.write_audio(sound[:, i * 1000 : (i + 1) * 1000])
            writer.write(frames(12)[i])
    a, b = read_audio(whole)[0], read_audio(tmp_path / "parts.mp4")[0]
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-4
    # and the muxer interleaves the tracks: sound packets are not all at the end of the file
    with av.open(str(tmp_path / "parts.mp4")) as container:
        kinds = [p.stream.type for p in container.demux() if p.size]
    first_video_after_audio = kinds.index("video", kinds.index("audio"))
    assert first_video_after_audio < len(kinds) - 1


def test_an_aborted_writer_leaves_no_file(tmp_path):
    target = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError), VideoWriter(target, 24, 32, 32, audio_rate=RATE) as writer:
        writer.write_audio(tone(0.2))
        writer.write(frames(4))
        raise RuntimeError("cancelled")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_bad_sound_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="opened without sound: pass audio_rate"):
        with VideoWriter(tmp_path / "a.mp4", 24, 32, 32) as writer:
            writer.write_audio(tone(0.1))
    with pytest.raises(InvalidInputError, match="audio_rate must be an integer in 8000..192000"):
        VideoWriter(tmp_path / "b.mp4", 24, 32, 32, audio_rate=100)
    with pytest.raises(InvalidInputError, match=r"audio_channels must be 1 \(mono\) or 2 \(stereo\); got 6"):
        write_video(tmp_path / "c.mp4", frames(2), 24, audio=np.zeros((6, 100), np.float32), audio_rate=RATE)
    with pytest.raises(InvalidInputError, match="floats in"):
        write_video(tmp_path / "d.mp4", frames(2), 24, audio=np.zeros((2, 100), np.int16), audio_rate=RATE)
    with pytest.raises(InvalidInputError, match="sound and its rate together"):
        write_video(tmp_path / "e.mp4", frames(2), 24, audio=tone(0.1))
    assert not any(tmp_path.iterdir())


def test_a_file_without_sound_reads_as_none(tmp_path):
    out = write_video(tmp_path / "v.mp4", frames(4), 24)
    assert probe_audio(out) is None and read_audio(out) is None


def test_resampling_keeps_length_and_pitch():
    up = resample_audio(tone(0.5, rate=16_000), 16_000, RATE)
    assert abs(up.shape[1] - 12_000) <= 64
    peak = np.abs(np.fft.rfft(up[0, 1000:9192])).argmax() * RATE / 8192
    assert peak == pytest.approx(440, abs=3)


def test_thumbnails_and_sprite_sheets_are_unaffected_by_sound(tmp_path):
    with_sound = write_video(tmp_path / "s.mp4", frames(12), 24, audio=tone(0.5), audio_rate=RATE)
    without = write_video(tmp_path / "n.mp4", frames(12), 24)
    for make, name in ((write_thumbnail, "thumb.png"), (write_spritesheet, "sheet.png")):
        a = np.asarray(Image.open(make(with_sound, tmp_path / f"s-{name}")))
        b = np.asarray(Image.open(make(without, tmp_path / f"n-{name}")))
        np.testing.assert_array_equal(a, b)


def test_the_credential_covers_the_sound(tmp_path):
    identity = load_signing_identity(data_dir=tmp_path / "data")
    out = write_video(tmp_path / "signed.mp4", frames(12), 24, audio=tone(0.5), audio_rate=RATE)
    sign_file(out, identity, "text", model="tiny")
    assert read_provenance(out).signature_valid and probe_audio(out) is not None
    with av.open(str(out)) as container:  # a byte inside the first sound packet, changed
        packet = next(p for p in container.demux(container.streams.audio[0]) if p.size > 16)
        offset = packet.pos + packet.size // 2
    data = bytearray(out.read_bytes())
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    assert not read_provenance(out).signature_valid


def test_inspect_lists_the_sound_track(tmp_path, capsys):
    out = write_video(tmp_path / "a.mp4", frames(12), 24, audio=tone(0.5), audio_rate=RATE)
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "video:        32x32, 12 frames at 24 fps (0.50 s)" in text
    assert "audio:        aac, 24000 Hz, 2 channels (0.50 s)" in text
    silent = write_video(tmp_path / "b.mp4", frames(12), 24)
    assert main(["inspect", str(silent)]) == 0 and "audio:        none" in capsys.readouterr().out
