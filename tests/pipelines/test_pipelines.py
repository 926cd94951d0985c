"""Every task over one tiny seeded random model: shapes, determinism, conditioning, invariants, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kinema.errors import Interrupted, InvalidInputError, ModelNotFoundError
from kinema.io import read_video, write_video
from kinema.pipelines.loading import load_pipeline
from kinema.pipelines.model_folder import build_random_components
from kinema.pipelines.pipeline_kinema import KinemaPipeline, frames_to_tensor, tensor_to_frames

FAST = dict(num_inference_steps=1, guidance_scale=1.0, seed=0)
_seed0 = dict(num_inference_steps=4, seed=0)
random_frames = None  # set from the session fixture below


@pytest.fixture(autouse=True)
def _frames(make_frames):
    global random_frames
    random_frames = make_frames


class DiTCalls:
    """Records the keyword inputs of every DiT forward."""

    def __init__(self, pipe: KinemaPipeline) -> None:
        self.calls: list[dict] = []
        self.handle = pipe.transformer.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        self.calls.append({"hidden_states": args[0].clone(), "timestep": args[1].clone(), **kwargs})

    def __enter__(self) -> DiTCalls:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def vae_roundtrip(pipe: KinemaPipeline, frames: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        z = pipe.vae.encode(frames_to_tensor(frames[None])).mode()
        return tensor_to_frames(pipe.vae.decode(z))[0]


# ----- text → video / image ----------------------------------------------------------------------------
def test_t2v_shape_dtype_and_determinism(pipes):
    pipe = pipes("t2v")
    out = pipe("a red ball bounces", seed=0)
    assert out.frames.shape == (1, 9, 32, 32, 3) and out.frames.dtype == np.uint8
    assert out.fps == 8.0 and out.num_frames == 9
    assert np.array_equal(out.frames, pipe("a red ball bounces", seed=0).frames)
    assert not np.array_equal(out.frames, pipe("a red ball bounces", seed=1).frames)


def test_batch_matches_single(pipes):
    pipe = pipes("t2v")
    both = pipe(["a red ball", "a blue ball"], return_latents=True, **FAST)
    one = pipe("a red ball", return_latents=True, **FAST)
    assert both.frames.shape == (2, 9, 32, 32, 3)
    torch.testing.assert_close(both.latents[:1], one.latents, atol=1e-4, rtol=1e-4)


def test_guidance_uses_the_negative_prompt_in_one_batched_forward(pipes):
    pipe = pipes("t2v")
    with DiTCalls(pipe) as dit:
        a = pipe("a ball", num_inference_steps=2, guidance_scale=4.0, seed=0, return_latents=True)
    assert len(dit.calls) == 2 and dit.calls[0]["hidden_states"].shape[0] == 2  # [prompt; negative]
    b = pipe(
        "a ball",
        num_inference_steps=2,
        guidance_scale=4.0,
        seed=0,
        negative_prompt="blurry",
        return_latents=True,
    )
    assert not torch.allclose(a.latents, b.latents)


def test_guidance_interval_guides_only_the_steps_whose_noise_level_is_inside_it(pipes):
    pipe = pipes("t2v")
    request = pipe.make_request("a ball", dict(num_inference_steps=6))
    scheduler, timesteps, _ = pipe.prepare_timesteps(request)
    sigmas = [float(t) / scheduler.config.num_train_timesteps for t in timesteps]
    hi = (sigmas[1] + sigmas[2]) / 2  # the two noisiest steps fall outside
    with DiTCalls(pipe) as dit:
        pipe("a ball", num_inference_steps=6, guidance_scale=4.0, guidance_interval=[0.0, hi], seed=0)
    assert [c["hidden_states"].shape[0] for c in dit.calls] == [1, 1, 2, 2, 2, 2]
    # With no step inside the interval the result is the unguided one.
    none = pipe("a ball", guidance_scale=4.0, guidance_interval=(0.0, 1e-6), return_latents=True, **_seed0)
    plain = pipe("a ball", guidance_scale=1.0, return_latents=True, **_seed0)
    torch.testing.assert_close(none.latents, plain.latents, atol=1e-5, rtol=1e-5)
    everywhere = pipe("a ball", guidance_scale=4.0, return_latents=True, **_seed0)
    assert not torch.allclose(everywhere.latents, plain.latents)


def test_guidance_interval_keeps_the_given_frames_on_unguided_steps(pipes):
    pipe = pipes("i2v")
    image = random_frames(1)[0]
    with DiTCalls(pipe) as dit:
        out = pipe(image, "it rolls", guidance_scale=4.0, guidance_interval=(0.0, 0.5), **_seed0)
    assert np.array_equal(out.frames[0, 0], image)
    sizes = [c["hidden_states"].shape[0] for c in dit.calls]
    assert 1 in sizes and 2 in sizes
    for call in dit.calls:  # the conditions match the batch on guided and unguided steps alike
        assert call["cond_latents"].shape[0] == call["hidden_states"].shape[0]


def test_a_trajectory_map_takes_the_models_trajectory_guidance_interval(pipes):
    from dataclasses import replace

    from kinema.runtime.request import resolve_request

    pipe = pipes("t2v")
    defaults = replace(pipe.defaults, guidance_interval=(0.0, 0.9), trajectory_guidance_interval=(0.0, 0.75))
    tracks = np.zeros((1, 9, 3), dtype=np.float32)
    rules = pipe.size_rules
    assert resolve_request(rules, defaults, ["a ball"]).guidance_interval == (0.0, 0.9)
    assert resolve_request(rules, defaults, ["a ball"], trajectories=tracks).guidance_interval == (0.0, 0.75)
    asked = resolve_request(rules, defaults, ["a ball"], trajectories=tracks, guidance_interval=(0.2, 1.0))
    assert asked.guidance_interval == (0.2, 1.0)
    unset = replace(defaults, trajectory_guidance_interval=None)
    assert resolve_request(rules, unset, ["a ball"], trajectories=tracks).guidance_interval == (0.0, 0.9)


def test_a_trajectory_map_takes_the_models_trajectory_guidance_scale(pipes):
    from dataclasses import replace

    from kinema.runtime.request import resolve_request

    pipe = pipes("t2v")
    defaults = replace(pipe.defaults, guidance_scale=4.0, trajectory_guidance_scale=3.0)
    tracks = np.zeros((1, 9, 3), dtype=np.float32)
    rules = pipe.size_rules
    assert resolve_request(rules, defaults, ["a ball"]).guidance_scale == 4.0
    assert resolve_request(rules, defaults, ["a ball"], trajectories=tracks).guidance_scale == 3.0
    asked = resolve_request(rules, defaults, ["a ball"], trajectories=tracks, guidance_scale=6.0)
    assert asked.guidance_scale == 6.0
    unset = replace(defaults, trajectory_guidance_scale=None)
    assert resolve_request(rules, unset, ["a ball"], trajectories=tracks).guidance_scale == 4.0


def test_guide_trajectory_takes_the_map_from_the_unguided_half_only(pipes):
    pipe = pipes("t2v")
    paths = {"trajectories": [{"point": [8, 8], "path": [[1.0, 24, 20]]}]}
    guided = dict(trajectories=paths, num_inference_steps=2, guidance_scale=4.0, seed=0, return_latents=True)
    runs = {}
    for setting in (False, True):
        with DiTCalls(pipe) as dit:
            runs[setting] = pipe("a ball", guide_trajectory=setting, **guided).latents
        for call in dit.calls:
            prompt_map, unguided_map = call["trajectory"].chunk(2)  # [prompt; negative] halves
            assert prompt_map.abs().sum() > 0
            assert torch.equal(unguided_map, torch.zeros_like(prompt_map) if setting else prompt_map)
    assert not torch.allclose(runs[False], runs[True])
    # the model's kinema.json decides when the request leaves it unset; without a map it changes nothing
    plain = {**guided, "trajectories": None}
    pipe.config.guide_trajectory = True
    try:
        assert torch.equal(pipe("a ball", **guided).latents, runs[True])
        with_default = pipe("a ball", **plain).latents
    finally:
        pipe.config.guide_trajectory = False
    assert torch.equal(with_default, pipe("a ball", **plain).latents)


@pytest.mark.parametrize("interval", [(0.9, 0.2), (0.0, 1.5), (-0.1, 0.5), (0.5,), "high"])
def test_impossible_guidance_interval_is_refused(pipes, interval):
    with pytest.raises(InvalidInputError, match="guidance_interval"):
        pipes("t2v")("a ball", guidance_interval=interval, **FAST)


def test_aspect_ratio_and_duration(pipes):
    out = pipes("t2v")("a ball", aspect_ratio="16:9", seconds=2.0, **FAST)
    assert out.frames.shape == (1, 17, 24, 40, 3)  # 16:9 on the 8-px grid at ~32x32; 2 s at 8 fps → 17


def test_t2i_is_one_frame(pipes):
    out = pipes("t2i")("a red ball", **FAST)
    assert out.frames.shape == (1, 1, 32, 32, 3)
    with pytest.raises(InvalidInputError, match="one frame"):
        pipes("t2i")("a red ball", camera_control={"type": "zoom_in"})


def test_unipc_sampler_runs_all_steps(pipes):
    with DiTCalls(pipes("t2v")) as dit:
        out = pipes("t2v")("a ball", sampler="unipc", num_inference_steps=3, guidance_scale=1.0, seed=0)
    assert out.frames.shape == (1, 9, 32, 32, 3) and len(dit.calls) == 3


# ----- image → video, keyframes --------------------------------------------------------------------------
def test_i2v_first_frame_is_the_image_and_reaches_the_dit(pipes):
    pipe = pipes("i2v")
    image = random_frames(1)[0]
    with DiTCalls(pipe) as dit:
        pasted = pipe(image, "it rolls", return_latents=True, **FAST)
    assert pasted.frames.shape == (1, 9, 32, 32, 3)
    assert np.array_equal(pasted.frames[0, 0], image)  # pasted exactly
    # The DiT sees the encoded image at latent frame 0 and nothing elsewhere.
    mask, cond = dit.calls[0]["cond_mask"], dit.calls[0]["cond_latents"]
    assert mask[:, :, 0].eq(1).all() and mask[:, :, 1:].eq(0).all()
    torch.testing.assert_close(cond[:, :, :1], pipe.encode_frames(image[None]))
    # Without pasting, frame 0 is what the VAE makes of the image (the causal VAE decodes it alone).
    raw = pipe(image, "it rolls", paste_image=False, **FAST)
    assert np.abs(raw.frames[0, 0].astype(int) - vae_roundtrip(pipe, image[None])[0]).max() <= 1
    # Another image changes the generated latents after frame 0: conditioning reaches the DiT.
    other = pipe(255 - image, "it rolls", return_latents=True, **FAST)
    assert not torch.allclose(pasted.latents[:, :, 1:], other.latents[:, :, 1:])


def test_i2v_keeps_a_valid_image_size_and_presets_an_odd_one(pipes):
    assert pipes("i2v")(random_frames(1, 24, 40)[0], **FAST).frames.shape == (1, 9, 24, 40, 3)
    assert pipes("i2v")(random_frames(1, 37, 70)[0], **FAST).frames.shape == (1, 9, 24, 40, 3)  # → 16:9


def test_i2v_unreadable_image_is_a_clear_error(pipes):
    with pytest.raises(InvalidInputError):
        pipes("i2v")(b"this is not an image", **FAST)


def test_keyframes_first_last_and_between(pipes):
    pipe = pipes("keyframes")
    first, middle, last = random_frames(3, seed=3)
    with DiTCalls(pipe) as dit:
        out = pipe(first, last, "morph", keyframes=[(0.5, middle)], **FAST)  # 0.5 s at 8 fps = frame 4
    frames = out.frames[0]
    assert frames.shape == (9, 32, 32, 3)
    assert (
        np.array_equal(frames[0], first)
        and np.array_equal(frames[4], middle)
        and np.array_equal(frames[8], last)
    )
    mask, cond = dit.calls[0]["cond_mask"], dit.calls[0]["cond_latents"]
    assert mask[0, 0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(cond[:, :, 2:], pipe.encode_frames(last[None]))  # a lone image latent


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(keyframes=[(0.25, "middle"), (0.375, "middle")]), "same latent frame"),
        (dict(keyframes=[(2.0, "middle")]), "not inside the video"),
        (dict(last="wide"), "different shape"),
        (dict(last=None), "need a last image"),
    ],
)
def test_keyframe_errors(pipes, kwargs, message):
    first = random_frames(1)[0]
    images = {"middle": random_frames(1, seed=2)[0], "wide": random_frames(1, 32, 96)[0]}
    last = kwargs.get("last", "middle")
    keyframes = [(t, images[name]) for t, name in kwargs.get("keyframes", [])]
    with pytest.raises(InvalidInputError, match=message):
        pipes("keyframes")(first, images.get(last), keyframes=keyframes, **FAST)


# ----- extension -------------------------------------------------------------------------------------------
def test_extend_keeps_the_source_and_conditions_each_chunk_on_the_tail(pipes):
    pipe = pipes("extend")
    source = random_frames(9, seed=5)
    with DiTCalls(pipe) as dit:
        out = pipe(source, "keep going", num_frames=10, **FAST)
    assert out.frames.shape == (1, 19, 32, 32, 3) and out.num_frames == 19
    assert np.array_equal(out.frames[0, :9], source)
    assert len(dit.calls) == 3  # 10 new frames, 4 per 9-frame chunk with a 5-frame context
    first = dit.calls[0]
    assert first["cond_mask"][0, 0, :, 0, 0].tolist() == [1.0, 1.0, 0.0]
    torch.testing.assert_close(first["cond_latents"][:, :, :2], pipe.encode_frames(source[-5:]))
    second = dit.calls[1]  # the second chunk's context ends with generated frames
    torch.testing.assert_close(second["cond_latents"][:, :, :2], pipe.encode_frames(out.frames[0, 8:13]))


def test_crossfade_changes_only_the_faded_frames(pipes):
    pipe, source = pipes("extend"), random_frames(9, seed=5)
    plain = pipe(source, num_frames=8, **FAST).frames[0]
    overlaps = []
    next_chunk = pipe.next_chunk

    def recording(*args):
        overlap, new = next_chunk(*args)
        overlaps.append(overlap)
        return overlap, new

    pipe.next_chunk = recording
    faded = pipe(source, num_frames=8, crossfade_frames=2, **FAST).frames[0]
    assert faded.shape == plain.shape == (17, 32, 32, 3)
    changed = [i for i in range(17) if not np.array_equal(faded[i], plain[i])]
    assert changed == [7, 8, 11, 12]  # the last 2 frames before each of the two seams
    # a linear fade from the real frames toward the next chunk's decoding of them: weights 1/3, 2/3
    recon, real = overlaps[0][-2:].astype(np.float32), plain[7:9].astype(np.float32)
    expected = np.round([real[0] * 2 / 3 + recon[0] / 3, real[1] / 3 + recon[1] * 2 / 3])
    assert np.abs(faded[7:9].astype(np.float32) - expected).max() <= 1
    with pytest.raises(InvalidInputError, match="crossfade_frames"):
        pipe(source, num_frames=8, crossfade_frames=9, **FAST)


def test_extend_streams_an_mp4_into_an_mp4(pipes, tmp_path):
    source = random_frames(9, 24, 40, seed=6)
    write_video(tmp_path / "src.mp4", source, fps=8)
    out = pipes("extend")(tmp_path / "src.mp4", output_path=tmp_path / "long.mp4", seconds=2.0, **FAST)
    assert out.frames is None and out.num_frames == 9 + 16
    frames, fps = read_video(tmp_path / "long.mp4")
    assert frames.shape == (25, 24, 40, 3) and fps == 8


class Discard:
    def write(self, frames):
        pass


def _extend_python_peak(pipe, add: int, keep_in_memory: bool) -> int:
    """Peak Python memory (tracemalloc sees numpy frames, lists, every Python object) while extending."""
    import gc
    import tracemalloc

    source = random_frames(9, seed=7)
    gc.collect()
    tracemalloc.start()
    try:
        pipe(source, num_frames=add, writer=None if keep_in_memory else Discard(), **FAST)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_extension_python_memory_stays_flat(pipes):
    pipe = pipes("extend")
    _extend_python_peak(pipe, 4, keep_in_memory=False)  # warm-up: first-call allocations are not growth
    short = _extend_python_peak(pipe, 4, keep_in_memory=False)  # one chunk
    long = _extend_python_peak(pipe, 40, keep_in_memory=False)  # ten chunks, 10x the length
    print(f"extension peak Python memory: 1 chunk {short} B, 10 chunks {long} B")
    assert long <= 1.2 * short, (short, long)
    # The measurement sees growth when there is some: keeping the result in memory grows past 1.2x.
    kept = _extend_python_peak(pipe, 20, keep_in_memory=True)  # (half the length is plenty to show it)
    assert kept > 1.2 * short, (short, kept)


def _live_tensor_bytes() -> int:
    import gc

    return sum(o.untyped_storage().nbytes() for o in gc.get_objects() if type(o) is torch.Tensor)


def test_extension_tensor_memory_does_not_grow_with_chunks(pipes):
    """Live torch tensors at the end of the first chunk and of the tenth are the same."""
    seen: dict[int, int] = {}
    units = 1 + 2  # one denoising step + two decode chunks per extension chunk

    def watch(step, total, stage):
        if step in (units, total):  # last unit of the first chunk, last of the last
            seen[step] = _live_tensor_bytes()

    pipes("extend")(random_frames(9, seed=7), num_frames=40, writer=Discard(), callback=watch, **FAST)
    first, last = seen[units], seen[max(seen)]
    assert max(seen) == 10 * units
    assert last <= 1.2 * first, (first, last)


# ----- video → video -----------------------------------------------------------------------------------------
def test_v2v_starts_from_the_noised_source(pipes):
    pipe = pipes("v2v")
    source = random_frames(9, seed=8)
    with DiTCalls(pipe) as dit:
        out = pipe(source, "in watercolour", strength=0.5, num_inference_steps=4, guidance_scale=1.0, seed=3)
    assert out.frames.shape == (1, 9, 32, 32, 3)
    assert len(dit.calls) == 2  # the last half of the 4-step schedule
    sigma = float(dit.calls[0]["timestep"][0]) / 1000
    assert 0 < sigma < 1
    noise = torch.randn(dit.calls[0]["hidden_states"].shape, generator=torch.Generator().manual_seed(3))
    expected = (1 - sigma) * pipe.encode_frames(source) + sigma * noise
    torch.testing.assert_close(dit.calls[0]["hidden_states"], expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(InvalidInputError, match="strength"):
        pipe(source, "x", strength=0.0)


# ----- camera, trajectories ----------------------------------------------------------------------------------
def test_camera_and_trajectories_change_the_output_and_their_absence_is_fine(pipes):
    pipe = pipes("t2v")
    plain = pipe("a ball", return_latents=True, **FAST).latents
    assert torch.equal(
        plain, pipe("a ball", camera_control=None, trajectories=None, return_latents=True, **FAST).latents
    )
    with DiTCalls(pipe) as dit:
        moved = pipe(
            "a ball", camera_control={"type": "simple", "config": {"zoom": 5}}, return_latents=True, **FAST
        )
    assert dit.calls[0]["camera"].shape == (1, 3, 6) and dit.calls[0]["camera"][0, 0, 5] == 0.5
    assert not torch.allclose(plain, moved.latents)
    paths = {"trajectories": [{"point": [8, 8], "path": [[1.0, 24, 20]]}]}
    with DiTCalls(pipe) as dit:
        dragged = pipe("a ball", trajectories=paths, return_latents=True, **FAST)
    assert dit.calls[0]["trajectory"].shape == (1, 3, 3, 8, 8)
    assert not torch.allclose(plain, dragged.latents)
    with pytest.raises(InvalidInputError, match="outside"):
        pipe("a ball", trajectories={"trajectories": [{"point": [8, 8], "path": [[1.0, 40, 20]]}]}, **FAST)


# ----- progress and interruption ------------------------------------------------------------------------------
def test_callback_sees_every_step_and_decode_chunk(pipes):
    seen = []
    pipes("t2v")("a ball", num_inference_steps=2, seed=0, callback=lambda *a: seen.append(a))
    assert seen == [(1, 4, "denoise"), (2, 4, "denoise"), (3, 4, "decode"), (4, 4, "decode")]


@pytest.mark.parametrize("how", ["return False", "raise"])
def test_interruption_stops_within_one_step(pipes, how):
    pipe = pipes("extend")

    def stop(step, total, stage):
        if how == "raise":
            raise Interrupted("cancelled")
        return False

    with DiTCalls(pipe) as dit, pytest.raises(Interrupted):
        pipe(random_frames(9), num_frames=40, num_inference_steps=3, seed=0, callback=stop)
    assert len(dit.calls) == 1


# ----- errors and loading ----------------------------------------------------------------------------------
def test_invalid_requests_give_clear_errors(pipes, tmp_path):
    with pytest.raises(InvalidInputError, match="needs a prompt"):
        pipes("t2v")("  ")
    with pytest.raises(InvalidInputError, match="Unknown option"):
        pipes("t2v")("a ball", colour="red")
    with pytest.raises(InvalidInputError, match="multiples of 8"):
        pipes("t2v")("a ball", width=30, height=32)
    with pytest.raises(InvalidInputError, match="sampler"):
        pipes("t2v")("a ball", sampler="ddim")
    with pytest.raises(InvalidInputError, match="not both"):
        pipes("extend")(random_frames(9), output_path=tmp_path / "a.mp4", writer=object())
    with pytest.raises(InvalidInputError, match="Unknown task"):
        load_pipeline("t2a", pipes("t2v"))
    with pytest.raises(ModelNotFoundError, match="No model folder"):
        load_pipeline("t2v", tmp_path / "nowhere")


def test_folder_round_trip_equals_components_in_memory(pipes):
    vae, transformer, config = build_random_components("tiny", seed=0)
    direct = load_pipeline(
        "t2v",
        {"vae": vae, "transformer": transformer, "text_encoder": pipes("t2v").text_encoder, "config": config},
    )
    torch.testing.assert_close(
        direct("a ball", return_latents=True, **FAST).latents,
        pipes("t2v")("a ball", return_latents=True, **FAST).latents,
    )
