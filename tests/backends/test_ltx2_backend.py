"""LTX-2 diffusers folders (tiny random weights, saved and loaded back): the shared suite, video with sound
in a real MP4 (both streams decoded by PyAV), sound kept across an extension, `--audio/--no-audio`, a
video-only model asked for sound, and `--upscale 2` for LTX-2 and LTX-Video (issue 28)."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from tiny_diffusers import ltx2_folder, ltx_folder, ltx_upsampler

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.io import probe_audio, probe_video, read_audio, read_video, write_video

RATE = 24_000  # the tiny vocoder's output rate, as LTX-2's
AAC_SLACK = 8  # samples: FFmpeg's AAC encoder records a track's length to within 8 (kinema/io/video.py)


def samples_of(seconds: float) -> int:
    return round(seconds * RATE)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return ltx2_folder(tmp_path_factory.mktemp("ltx2") / "ltx2", upsampler=True)


@pytest.fixture(scope="module")
def ltx2(folder):
    return load_backend(folder)


@pytest.fixture(scope="module")
def ltx(tmp_path_factory):
    return load_backend(ltx_upsampler(ltx_folder(tmp_path_factory.mktemp("ltx") / "ltx")))


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}  # v2v keeps int(steps × 0.7) ≥ 1


class TestLTX2(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, ltx2):
        return ltx2


def tone(seconds: float, hz: float = 440.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * hz * t)] * 2).astype(np.float32)  # (2, n)


def test_facts_say_it_makes_sound(folder):
    f = read_facts(folder)
    assert (f.backend, f.modes, f.audio) == ("ltx2", ("t2v", "i2v", "keyframes", "extend", "v2v"), True)
    assert "upscale" in f.options and f.as_dict()["audio"] is True
    assert (f.size_multiple, f.temporal_compression) == (32, 2)  # the tiny VAE: 2x in space and time


def test_mp4_has_an_aac_track_as_long_as_the_video(ltx2, tmp_path):
    out = tmp_path / "drums.mp4"
    result = ltx2.generate(
        GenerationSpec(prompt="a drummer plays on a rooftop", num_frames=17, output_path=out)
    )
    assert (result.has_audio, result.audio_rate) == (True, RATE)
    video, audio = probe_video(out), probe_audio(out)
    assert (video.num_frames, video.fps) == (17, 24.0)
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", RATE, 2)
    assert audio.duration == pytest.approx(17 / 24, abs=1e-3)  # the track is timed in ms
    frames, _ = read_video(out)  # both streams decode
    samples, rate = read_audio(out)
    assert frames.shape == (17, 32, 32, 3) and rate == RATE
    assert samples.shape[0] == 2 and abs(samples.shape[1] - samples_of(17 / 24)) <= AAC_SLACK
    assert np.abs(samples).max() > 1e-3  # the vocoder's output, not silence


def test_sound_in_memory_matches_the_file(ltx2, tmp_path):
    in_memory = ltx2.generate(GenerationSpec(prompt="a", seed=2))
    assert in_memory.audio.shape == (2, round(9 / 24 * RATE)) and in_memory.audio_rate == RATE
    out = tmp_path / "a.mp4"
    ltx2.generate(GenerationSpec(prompt="a", seed=2, output_path=out))
    decoded, _ = read_audio(out)
    n = min(decoded.shape[1], in_memory.audio.shape[1])
    # AAC at 192 kb/s: the decoded waveform follows the generated one
    assert np.corrcoef(decoded[:, :n].ravel(), in_memory.audio[:, :n].ravel())[0, 1] > 0.9


def test_no_audio_writes_no_track(ltx2, tmp_path):
    out = tmp_path / "silent.mp4"
    result = ltx2.generate(GenerationSpec(prompt="a", audio=False, output_path=out))
    assert not result.has_audio and probe_audio(out) is None and probe_video(out).num_frames == 9


def test_video_only_model_asked_for_sound_is_a_clear_error(ltx, tmp_path):
    with pytest.raises(InvalidInputError, match="makes video without sound; drop --audio"):
        ltx.generate(GenerationSpec(prompt="a", audio=True, output_path=tmp_path / "x.mp4"))
    assert not (tmp_path / "x.mp4").exists()


def _sounding_source(tmp_path, frames: int, size: int) -> tuple:
    source = tmp_path / "source.mp4"
    sound = tone(frames / 24)
    write_video(source, clip(frames, size, size, seed=3), fps=24, audio=sound, audio_rate=RATE)
    return source, read_audio(source)[0]


def test_extension_keeps_the_source_sound_and_continues_it(ltx2, tmp_path):
    source, sound = _sounding_source(tmp_path, 9, 32)
    out = tmp_path / "longer.mp4"
    result = ltx2.generate(
        GenerationSpec(
            task="extend", video=str(source), num_frames=12, output_path=out, num_inference_steps=1
        )
    )
    assert result.num_frames == 21 and result.has_audio
    samples, rate = read_audio(out)
    assert rate == RATE and abs(samples.shape[1] - samples_of(21 / 24)) <= AAC_SLACK
    head = round(9 / 24 * RATE) - round(0.04 * RATE)  # the source's part, before the join's cross-fade
    np.testing.assert_allclose(samples[:, 1024:head], sound[:, 1024:head], atol=0.05)  # the tone, kept
    tail = samples[:, round(9 / 24 * RATE) :]
    assert np.abs(tail).max() > 1e-3  # continued with the model's own sound
    assert np.abs(tail - tone(21 / 24)[:, round(9 / 24 * RATE) :]).mean() > 0.1  # not the tone repeated


def test_video_only_extension_keeps_the_source_sound(ltx, tmp_path):
    source, sound = _sounding_source(tmp_path, 9, 64)
    out = tmp_path / "longer.mp4"
    result = ltx.generate(
        GenerationSpec(task="extend", video=str(source), num_frames=8, output_path=out, num_inference_steps=1)
    )
    assert "source's sound is kept" in result.info["audio"]
    samples, _ = read_audio(out)
    end = round(9 / 24 * RATE)
    assert abs(samples.shape[1] - samples_of(17 / 24)) <= AAC_SLACK
    np.testing.assert_allclose(samples[:, 1024 : end - 1024], sound[:, 1024 : end - 1024], atol=0.05)
    assert np.abs(samples[:, end + 1024 :]).max() < 1e-3  # the added part: silence, said in info


class SpyUpsampler:
    def __init__(self, pipe) -> None:
        self.pipe, self.shapes = pipe, []

    def __call__(self, latents, **kwargs):
        self.shapes.append(tuple(latents.shape))
        out = self.pipe(latents=latents, **kwargs)
        self.shapes.append(tuple(out.frames.shape))
        return out


@pytest.mark.parametrize("family", ["ltx2", "ltx"])
def test_upscale_generates_at_half_size_and_doubles_it(family, request, monkeypatch):
    backend = request.getfixturevalue(family)
    spy = SpyUpsampler(backend.upsampler())
    monkeypatch.setattr(backend, "upsampler", lambda: spy)
    result = backend.generate(
        GenerationSpec(prompt="a", width=64, height=64, upscale=2, num_inference_steps=1)
    )
    assert result.frames.shape == (9, 64, 64, 3)
    (before, after) = spy.shapes  # (B, C, t, h, w): half the size in, twice that out
    assert after[3:] == (2 * before[3], 2 * before[4]) and after[:3] == before[:3]
    spatial = 64 // backend.pipeline(backend.refine_task).vae_spatial_compression_ratio
    assert after[3:] == (spatial, spatial)


def test_upscale_needs_the_upsampler_and_a_size_it_can_halve(ltx2, tmp_path):
    with pytest.raises(
        InvalidInputError, match="off this model's 32-px grid; ask for a size that is a multiple of 64"
    ):
        ltx2.generate(GenerationSpec(prompt="a", width=32, height=32, upscale=2))
    bare = load_backend(ltx_folder(tmp_path / "bare"))
    with pytest.raises(InvalidInputError, match="--upscale needs the latent upsampler's weights in"):
        bare.generate(GenerationSpec(prompt="a", upscale=2))


def test_generate_command_writes_video_with_sound(folder, tmp_path, capsys):
    out = tmp_path / "drums.mp4"
    args = ["a drummer plays on a rooftop", "--model", str(folder), "-o", str(out), "--quiet", "--steps", "1"]
    assert main(["generate", *args]) == 0, capsys.readouterr().err
    assert "sound at 24000 Hz" in capsys.readouterr().out
    assert probe_audio(out).sample_rate == RATE
    silent = tmp_path / "silent.mp4"
    assert main(["generate", *args[:3], "-o", str(silent), "--quiet", "--steps", "1", "--no-audio"]) == 0
    assert probe_audio(silent) is None


def test_generate_command_refuses_sound_from_a_video_only_model(tmp_path, capsys):
    folder = ltx_folder(tmp_path / "ltx")
    code = main(
        ["generate", "a", "--model", str(folder), "-o", str(tmp_path / "x.mp4"), "--audio", "--quiet"]
    )
    assert code != 0
    assert "makes video without sound" in capsys.readouterr().err
