import math

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.eval import physics
from kinema.eval.model_under_test import load_model
from kinema.world import paper


def _run(name, cases, oracle, settings):
    records, _ = physics.evaluate_physics(load_model(name, oracle), cases, settings, progress=False)
    return records


def _mean(records, metric, **where):
    vals = [r[metric] for r in records if all(r[k] == v for k, v in where.items())]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def test_cases_follow_the_protocol(physics_cases, physics_settings):
    assert len(physics_cases) == 3 * 2 * physics_settings.n
    assert [(c.scenario, c.split) for c in physics_cases] == [
        (s, p) for s in physics.SCENARIOS for p in physics.SPLITS
    ]
    for case in physics_cases:
        assert case.video.shape == (32, 64, 64, 3) and case.video.dtype == np.uint8
        assert case.states.shape == (32, 2 if case.scenario == "collision" else 1, 6)
        assert case.caption
        # the clip is the world renderer's picture of the states: the first ball is red where the truth is
        x, y = case.states[0, 0, :2]
        px = case.video[0, int(64 - y * 6.4), int(x * 6.4)]
        assert px[0] > 200 and px[2] < 60


def _in(value, intervals):
    return any(lo - 1e-9 <= value <= hi + 1e-9 for lo, hi in intervals)


def test_ood_split_holds_only_ood_clips_and_id_split_only_id():
    settings = physics.PhysicsSettings(n=10, size=16, seed=5)  # tiny frames: only the parameters matter
    for case in physics.build_cases(settings):
        values = {"r": case.spec.objects[0].size, "v": abs(case.states[0, 0, 2])}
        if case.scenario == "collision":
            values = {
                "r1": case.spec.objects[0].size,
                "r2": case.spec.objects[1].size,
                "v1": abs(case.states[0, 0, 2]),
                "v2": abs(case.states[0, 1, 2]),
            }
        ood = {k for k, v in values.items() if not _in(v, paper.ID_RADIUS if k[0] == "r" else paper.ID_SPEED)}
        if case.split == "id":
            assert not ood, (case.scenario, values)
            assert case.ood_level is None
        else:
            assert ood, f"an OOD clip with every parameter in distribution: {values}"
            assert ood == set(case.params["ood_params"])
            assert case.ood_level == len(ood)
            for k in ood:
                assert _in(values[k], paper.OOD_RADIUS if k[0] == "r" else paper.OOD_SPEED)


def test_metrics_are_exact_on_synthetic_parses(physics_cases):
    case = next(c for c in physics_cases if c.scenario == "collision")
    pos = case.states[:, :, :2].transpose(1, 0, 2)
    vel = case.states[:, :, 2:4].transpose(1, 0, 2)
    seen = np.ones(pos.shape[:2], dtype=bool)
    perfect = physics.ParsedTracks(pos.copy(), vel.copy(), seen, np.zeros((2, 32, 3)))
    m = physics.case_metrics(case, perfect, 3)
    assert m["velocity_error"] == 0 and m["position_error"] == 0
    assert m["momentum_error"] == 0 and m["energy_error"] == 0 and m["detected"] == 1.0
    # a parse off by exactly 0.5 in vx everywhere: velocity error 0.5, positions untouched
    off = physics.ParsedTracks(pos.copy(), vel + np.array([0.5, 0.0]), seen, np.zeros((2, 32, 3)))
    assert physics.case_metrics(case, off, 3)["velocity_error"] == pytest.approx(0.5)
    # frames up to the collision are never scored: corrupting them changes nothing
    hit = case.collision_frame()
    assert hit is not None and hit >= 3
    early = vel.copy()
    early[:, : hit + 1] += 9.0
    m2 = physics.case_metrics(case, physics.ParsedTracks(pos, early, seen, np.zeros((2, 32, 3))), 3)
    assert m2["velocity_error"] == 0


def test_ground_truth_through_the_evaluator_is_the_parser_floor(
    physics_cases, physics_oracle, physics_settings
):
    records = _run("ground-truth", physics_cases, physics_oracle, physics_settings)
    # the oracle replays the renders exactly, so what remains is the parser's own error: small, all found
    for scenario in physics.SCENARIOS:
        assert _mean(records, "velocity_error", scenario=scenario) < 0.15
        assert _mean(records, "position_error", scenario=scenario) < 0.02
        assert _mean(records, "detected", scenario=scenario) > 0.9
    # same numbers as parsing the renders directly (same code path, nothing model-specific)
    direct = [physics.case_metrics(c, physics.parse_tracks(c.video, c.spec), 3) for c in physics_cases]
    assert [r["velocity_error"] for r in records] == pytest.approx([d["velocity_error"] for d in direct])
    assert _mean(records, "momentum_error", scenario="collision") < 0.1


@pytest.mark.parametrize("name", ["frozen", "reversed"])
def test_wrong_motion_gives_large_errors(name, physics_cases, physics_oracle, physics_settings):
    floor = _run("ground-truth", physics_cases, physics_oracle, physics_settings)
    wrong = _run(name, physics_cases, physics_oracle, physics_settings)
    for scenario in physics.SCENARIOS:
        f = _mean(floor, "velocity_error", scenario=scenario)
        w = _mean(wrong, "velocity_error", scenario=scenario)
        assert w > 0.5 and w > 10 * f, (scenario, w, f)
        assert _mean(wrong, "position_error", scenario=scenario) > 10 * _mean(
            floor, "position_error", scenario=scenario
        )


def test_wrong_colour_loses_the_balls(physics_cases, physics_oracle, physics_settings):
    wrong = _run("wrong-colour", physics_cases, physics_oracle, physics_settings)
    for r in wrong:
        if r["scenario"] != "collision":  # one red ball turned blue: the red ball is gone
            assert r["detected"] == 0.0 and math.isnan(r["velocity_error"])
    # in a collision red and blue swap places: both "found", both far off
    assert _mean(wrong, "position_error", scenario="collision") > 1.0


def test_settings_reject_unknown_scenarios():
    with pytest.raises(InvalidInputError, match="unknown scenario 'bounce'"):
        physics.PhysicsSettings(scenarios=("bounce",))
    with pytest.raises(InvalidInputError, match="unknown split"):
        physics.PhysicsSettings(splits=("test",))
