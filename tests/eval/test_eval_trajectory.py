"""Trajectory following: the cases are the simulator's paths per speed band, ground truth scores the parser's
floor, wrong models score far from it, and a model folder gets the asked path as its trajectory map."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kinema.cli import main
from kinema.eval import trajectory
from kinema.eval.model_under_test import BackendVideoModel, load_model
from kinema.world.spec import SHAPES


@pytest.fixture(scope="module")
def trajectory_run():
    settings = trajectory.TrajectorySettings(n=2, size=64, num_frames=17, seed=2)
    cases = trajectory.build_cases(settings)
    return settings, cases, trajectory.build_oracle(cases)


def test_cases_cover_every_band_at_its_speed_and_stay_in_the_frame(trajectory_run):
    settings, cases, _ = trajectory_run
    assert [c.band for c in cases] == ["slow", "slow", "trained", "trained", "fast", "fast"]
    for case in cases:
        low, high = trajectory.SPEED_BANDS[case.band]
        px_per_frame = np.linalg.norm(np.diff(case.path_px, axis=0), axis=1)
        unit_px = settings.size / case.spec.world_size[0] / case.spec.fps  # one world unit/s in px/frame
        # the walls reflect the object, so the speed stays in its band frame to frame
        assert low * unit_px * 0.9 <= np.median(px_per_frame) <= high * unit_px * 1.1
        assert (case.path_px >= 0).all() and (case.path_px <= settings.size - 1).all()
        assert case.color in case.prompt
        assert case.tracks().shape == (1, settings.num_frames, 8)
        assert set(case.tracks()[0, :, 7]) == {SHAPES.index(case.spec.objects[0].shape) + 1}


def test_ground_truth_follows_and_wrong_models_do_not(trajectory_run):
    settings, cases, oracle = trajectory_run

    def run(name):
        records, _ = trajectory.evaluate_trajectory(load_model(name, oracle), cases, settings, progress=False)
        return trajectory.summarize(records)

    truth = run("ground-truth")
    assert truth["all"]["drawn"] == 1.0 and truth["all"]["mean_distance_px"] < 0.5
    # played backwards the object is where the path ends, not where it starts: far from the path
    assert run("reversed")["trained"]["mean_distance_px"] > 5 * truth["trained"]["mean_distance_px"]
    # red turns blue: the asked colour is not where the path is
    assert run("wrong-colour")["all"]["drawn"] < 0.7


def test_a_model_folder_gets_the_asked_path_as_its_trajectory_map(trajectory_run, tmp_path):
    from kinema.pipelines import create_random_model_folder
    from kinema.pipelines.trajectories import rasterize_trajectories

    settings, cases, _ = trajectory_run
    folder = create_random_model_folder(tmp_path / "tiny", preset="tiny", seed=0)
    model = BackendVideoModel(folder, num_inference_steps=1)
    seen = []
    transformer = model.backend.pipeline("t2v").transformer
    handle = transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["trajectory"].clone()), with_kwargs=True
    )
    case = cases[2]
    try:
        video = model.trajectory_video(case.prompt, case.tracks(), 17, 64, 64, seed=0)
    finally:
        handle.remove()
    assert video.shape == (17, 64, 64, 3)
    latent = model.backend.pipeline("t2v").vae.latent_shape(17, 64, 64)[1:]
    want = rasterize_trajectories(
        torch.from_numpy(case.tracks()),
        17,
        64,
        64,
        latent_size=tuple(latent),
        fps=10.0,
        spatial_compression=4,
    )
    torch.testing.assert_close(seen[0][0], want[0], rtol=0, atol=1e-5)


def test_cli_writes_a_report_per_band(tmp_path):
    out = tmp_path / "report"
    argv = ["eval", "trajectory", "--model", "ground-truth", "--n", "1", "--frames", "9"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "trajectory.json").read_text())
    assert set(report["summary"]["ground-truth"]) == {"slow", "trained", "fast", "all"}
    assert "| ground-truth |" in (out / "trajectory.md").read_text()


def test_the_shape_table_groups_the_clips_by_their_objects_shape(trajectory_run):
    settings, cases, oracle = trajectory_run
    records, _ = trajectory.evaluate_trajectory(
        load_model("wrong-colour", oracle), cases, settings, progress=False
    )
    assert [r["shape"] for r in records] == [c.spec.objects[0].shape for c in cases]
    table = trajectory.shape_table({"wrong-colour": records})
    shapes = table.columns[1:]
    assert set(shapes) == {c.spec.objects[0].shape for c in cases}
    for shape, cell in zip(shapes, table.rows[0][1:]):
        mine = [r for r in records if r["shape"] == shape]
        drawn = sum(r["drawn"] for r in mine) / len(mine)
        assert cell.endswith(f"({drawn:.0%}; {len(mine)})"), (shape, cell)
