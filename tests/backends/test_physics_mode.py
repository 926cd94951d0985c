"""Physics-grounded generation through Kinema's backend: the simulator's tracks are the DiT's trajectory
map (captured at the DiT's input), every frame is drawn by the model, unusable prompts are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from backend_suite import clip

from kinema.backends import GenerationSpec, load_backend
from kinema.errors import InvalidInputError
from kinema.io import read_aigc_label, read_video, write_video
from kinema.pipelines.model_folder import create_random_model_folder
from kinema.pipelines.trajectories import rasterize_trajectories
from kinema.world.grounding import plan_from_prompt

FAST = {"num_inference_steps": 2}


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    folder = create_random_model_folder(tmp_path_factory.mktemp("phys") / "tiny", preset="tiny", seed=0)
    return load_backend(folder)


class DiTInputs:
    def __init__(self, backend, task: str) -> None:
        self.trajectories: list[torch.Tensor] = []
        self.handle = backend.pipeline(task).transformer.register_forward_pre_hook(
            self._record, with_kwargs=True
        )

    def _record(self, module, args, kwargs):
        self.trajectories.append(kwargs["trajectory"].clone())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def _latent_size(backend, frames: int) -> tuple[int, int, int]:
    f = backend.facts
    vae = backend.pipeline("t2v").vae
    return tuple(vae.latent_shape(frames, f.height, f.width)[1:])


def test_t2v_trajectory_map_is_the_simulation(backend, tmp_path):
    prompt = "a red ball is thrown to the right and bounces"
    f = backend.facts
    with DiTInputs(backend, "t2v") as seen:
        result = backend.generate(
            GenerationSpec(prompt=prompt, physics=True, output_path=tmp_path / "p.mp4", **FAST)
        )
    plan = plan_from_prompt(prompt, width=f.width, height=f.height, num_frames=f.num_frames, fps=f.fps)
    want = rasterize_trajectories(
        plan.tracks, f.num_frames, f.height, f.width, latent_size=_latent_size(backend, f.num_frames),
        fps=f.fps, spatial_compression=4,
    )  # fmt: skip
    assert len(seen.trajectories) == 2  # every step
    for got in seen.trajectories:  # (2B, 3, t, h, w): prompt and negative halves of the guided batch
        torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-6)
        assert got[0, 0].amax() > 0.5  # a blob where the simulated ball is
    assert "red ball thrown right" in result.info["physics"]
    frames, _ = read_video(tmp_path / "p.mp4")
    assert frames.shape == (f.num_frames, f.height, f.width, 3) and read_aigc_label(tmp_path / "p.mp4")


def test_candidates_are_drawn_in_one_batch_and_the_closest_kept(backend):
    with DiTInputs(backend, "t2v") as seen:
        result = backend.generate(
            GenerationSpec(
                prompt="a blue square moves to the left", physics=True, physics_candidates=3, **FAST
            )
        )
    assert seen.trajectories[0].shape[0] == 2 * 3  # 3 candidates (x2 for guidance) in each forward
    errors = result.info["physics_candidate_errors_px"]
    assert len(errors) == 3 and result.frames.shape[0] == backend.facts.num_frames


def test_i2v_starts_the_simulation_at_the_image(backend):
    f = backend.facts
    image = np.full((f.height, f.width, 3), 255, np.uint8)
    yy, xx = np.mgrid[0 : f.height, 0 : f.width]
    image[(xx - 8) ** 2 + (yy - 16) ** 2 <= 16] = (255, 0, 0)  # a red ball at (8, 16) px
    with DiTInputs(backend, "i2v") as seen:
        backend.generate(
            GenerationSpec(task="i2v", image=image, prompt="it moves to the right", physics=True, **FAST)
        )
    presence = seen.trajectories[0][0, 0]  # (t, h, w)
    first = np.unravel_index(int(presence[0].argmax()), presence[0].shape)
    last = np.unravel_index(int(presence[-1].argmax()), presence[-1].shape)
    assert first[1] * 4 <= 12 and last[1] > first[1]  # starts where the ball is (latent cells), moves right


def test_extend_gives_each_chunk_its_window_of_one_simulation(backend, tmp_path):
    f = backend.facts
    source = clip(f.num_frames, f.height, f.width)
    source[:, 12:20, 2:10] = (0, 0, 255)  # a blue block at the left
    write_video(tmp_path / "src.mp4", source, fps=f.fps)
    with DiTInputs(backend, "extend") as seen:
        result = backend.generate(
            GenerationSpec(
                task="extend", video=str(tmp_path / "src.mp4"), prompt="the blue square moves to the right quickly",
                num_frames=3 * f.num_frames, physics=True, output_path=tmp_path / "long.mp4", **FAST,
            )
        )  # fmt: skip
    assert result.num_frames == 4 * f.num_frames
    maps = seen.trajectories[::2]  # one per chunk (each chunk runs 2 steps)
    assert len(maps) >= 3 and not torch.equal(maps[0], maps[-1])  # windows move along the simulation


def test_unusable_prompts_and_modes_are_clear_errors(backend, tmp_path):
    with pytest.raises(InvalidInputError, match="not understood: 'purple elephants dancing wobbly'"):
        backend.generate(GenerationSpec(prompt="purple elephants dancing wobbly", physics=True, **FAST))
    with pytest.raises(InvalidInputError, match="cannot tell how to move the red ball from 'sideways'"):
        backend.generate(GenerationSpec(prompt="a red ball moves sideways", physics=True, **FAST))
    with pytest.raises(InvalidInputError, match="Physics mode works with t2v, i2v, extend"):
        backend.generate(GenerationSpec(task="t2i", prompt="a red ball", physics=True, **FAST))
    with pytest.raises(InvalidInputError, match="drop the trajectories"):
        backend.generate(
            GenerationSpec(prompt="a red ball", physics=True, trajectories=np.zeros((1, 9, 3)), **FAST)
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("channels", [7, 11])
def test_a_model_with_the_trajectory_adapter_gets_the_objects_looks_in_its_map(tmp_path, channels):
    folder = create_random_model_folder(
        tmp_path / "adapter", preset="tiny", seed=0, trajectory_adapter_channels=channels
    )
    adapted = load_backend(folder)
    prompt = "a red ball moves to the right and a blue square falls"
    f = adapted.facts
    with DiTInputs(adapted, "t2v") as seen:
        adapted.generate(GenerationSpec(prompt=prompt, physics=True, **FAST))
    plan = plan_from_prompt(prompt, width=f.width, height=f.height, num_frames=f.num_frames, fps=f.fps)
    want = rasterize_trajectories(
        plan.tracks, f.num_frames, f.height, f.width, latent_size=_latent_size(adapted, f.num_frames),
        spatial_compression=4, channels=channels,
    )  # fmt: skip
    got = seen.trajectories[0][0]  # (channels, t, h, w)
    assert got.shape[0] == channels
    torch.testing.assert_close(got, want[0], rtol=0, atol=1e-6)
    # Where the objects are in the first latent frame, the map carries their colours (2c - 1) and a radius,
    # and with 11 channels their shapes: the red ball a circle, the blue square a square.
    at_objects = got[3:, 0][:, got[0, 0] > 0.5].T  # (cells, 4 or 8)
    looks = {tuple(c[:3]): tuple(c[4:]) for c in at_objects.tolist()}
    assert set(looks) == {(1.0, -1.0, -1.0), (-1.0, -1.0, 1.0)}
    assert (at_objects[:, 3] > 0).all()
    if channels == 11:
        assert looks == {(1.0, -1.0, -1.0): (1.0, 0.0, 0.0, 0.0), (-1.0, -1.0, 1.0): (0.0, 1.0, 0.0, 0.0)}


def test_physics_mode_guides_within_the_models_trajectory_guidance_interval(tmp_path):
    import json

    folder = create_random_model_folder(tmp_path / "tiny", preset="tiny", seed=0)
    config = json.loads((folder / "kinema.json").read_text())
    (folder / "kinema.json").write_text(json.dumps({**config, "trajectory_guidance_interval": [0.0, 0.99]}))
    backend = load_backend(folder)
    f = backend.facts
    source = clip(f.num_frames, f.height, f.width)
    source[:, 12:20, 2:10] = (0, 0, 255)
    write_video(tmp_path / "src.mp4", source, fps=f.fps)
    specs = {
        "physics": GenerationSpec(prompt="a red ball moves to the right", physics=True, num_inference_steps=3),
        "plain": GenerationSpec(prompt="a red ball moves to the right", num_inference_steps=3),
        "extend": GenerationSpec(
            task="extend", video=str(tmp_path / "src.mp4"), prompt="the blue square moves to the right",
            num_frames=2 * f.num_frames, physics=True, num_inference_steps=3,
        ),
    }  # fmt: skip
    batches = {}
    for name, spec in specs.items():
        seen: list[int] = []
        hook = backend.pipeline(spec.task).transformer.register_forward_pre_hook(
            lambda module, args: seen.append(args[0].shape[0])
        )
        try:
            backend.generate(spec)
        finally:
            hook.remove()
        batches[name] = seen
    assert batches["physics"] == [1, 2, 2]  # the pure-noise step runs the prompt alone
    assert batches["plain"] == [2, 2, 2]  # no trajectory map: the model's guidance_interval, every step
    assert len(batches["extend"]) >= 6 and batches["extend"] == [1, 2, 2] * (len(batches["extend"]) // 3)


def test_a_model_that_guides_on_the_map_drops_it_from_the_unguided_half(tmp_path):
    import json

    folder = create_random_model_folder(tmp_path / "tiny", preset="tiny", seed=0)
    config = json.loads((folder / "kinema.json").read_text())
    settings = {"guide_trajectory": True, "guidance_scale": 1.0, "trajectory_guidance_scale": 3.0}
    (folder / "kinema.json").write_text(json.dumps({**config, **settings}))
    backend = load_backend(folder)
    spec = GenerationSpec(prompt="a red ball moves to the right", physics=True, **FAST)
    with DiTInputs(backend, "t2v") as seen:
        backend.generate(spec)
    # guided at the map's own scale (the model's guidance_scale of 1 would not guide at all): each step runs
    # [prompt; negative] halves, the simulator's map and then no map
    assert len(seen.trajectories) == FAST["num_inference_steps"]
    for m in seen.trajectories:
        assert m.shape[0] == 2 and m[0].abs().sum() > 0 and not m[1].any()
    # a request can turn it off: both halves keep the map (guided on the prompt alone)
    with DiTInputs(backend, "t2v") as seen:
        backend.generate(spec.model_copy(update={"guide_trajectory": False}))
    assert seen.trajectories and all(torch.equal(m[0], m[1]) for m in seen.trajectories)
