"""`kinema.runtime.extend.SoundTrack`, an extension's sound (issue 28), without a model: the source's sound
first, each chunk's own after it, cross-faded at the join, and never drifting from the frames."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.runtime.extend import SoundTrack

RATE, FPS = 24_000, 24.0


class Collect:
    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def __call__(self, samples: np.ndarray, rate: int) -> None:
        assert rate == RATE and samples.shape[0] == 2
        self.parts.append(np.array(samples))

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.parts, axis=1)


def test_source_then_chunks_with_a_crossfade_at_each_join():
    out = Collect()
    track = SoundTrack(out, RATE, FPS, fade_seconds=0.01)
    track.source(np.full((2, 9000), 0.5, np.float32), 9, include=True)  # 9 frames = 9000 samples
    # a chunk over 5 given + 8 new frames: its remake of the given frames' time is -1, its new part -0.25
    chunk = np.concatenate([np.full((2, 5000), -1.0), np.full((2, 8000), -0.25)], axis=1).astype(np.float32)
    track.chunk(chunk, given=5, new=8)
    track.flush()
    s = out.samples
    assert s.shape == (2, 17_000)
    fade = 240  # 10 ms
    np.testing.assert_array_equal(s[:, : 9000 - fade], 0.5)  # the source, untouched before the fade
    ramp = s[0, 9000 - fade : 9000]
    assert ramp[0] < 0.5 and ramp[-1] > -1.0 and np.all(np.diff(ramp) < 0)  # a smooth fade toward the chunk
    np.testing.assert_array_equal(s[:, 9000:], -0.25)  # the chunk's new frames' sound


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 29.97])
def test_many_chunks_never_drift_from_the_frames(fps):
    out = Collect()
    track = SoundTrack(out, RATE, fps)
    track.source(None, 7, include=True)  # a silent source: silence for its frames
    for _ in range(40):
        track.chunk(np.zeros((1, 20_000), np.float32), given=3, new=7)  # mono, longer than needed
    track.flush()
    assert out.samples.shape[1] == round((7 + 40 * 7) * RATE / fps)


def test_a_continuation_without_its_source_starts_at_the_chunk():
    out = Collect()
    track = SoundTrack(out, RATE, FPS)
    track.source(np.ones((2, 9000), np.float32), 9, include=False)
    track.chunk(np.full((2, 13_000), 0.25, np.float32), given=5, new=8)
    track.flush()
    assert out.samples.shape == (2, 8000) and np.all(out.samples == 0.25)
