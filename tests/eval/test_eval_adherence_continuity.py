import numpy as np
import pytest

from kinema.eval import adherence, continuity
from kinema.eval.model_under_test import load_model


@pytest.fixture(scope="module")
def adherence_run():
    settings = adherence.AdherenceSettings(n=4, size=64, num_frames=9, seed=1)  # rings need ~64 px to parse
    cases = adherence.build_cases(settings)
    return settings, cases, adherence.build_oracle(cases)


def test_prompts_come_from_the_captioner_and_name_the_objects(adherence_run):
    _, cases, _ = adherence_run
    assert len({c.prompt for c in cases}) == len(cases)
    for case in cases:
        assert 1 <= len(case.spec.objects) <= 3
        assert len({o.color for o in case.spec.objects}) == len(
            case.spec.objects
        )  # colours tell objects apart
        for obj in case.spec.objects:
            assert obj.color in case.prompt


def test_ground_truth_adheres_and_wrong_models_fail(adherence_run):
    settings, cases, oracle = adherence_run

    def run(name):
        return adherence.summarize(
            adherence.evaluate_adherence(load_model(name, oracle), cases, settings, progress=False)
        )

    assert run("ground-truth") == {c: 1.0 for c in adherence.CHECKS}
    frozen = run("frozen")
    assert frozen["direction_ok"] == 0.0 and frozen["color_ok"] == 1.0 and frozen["all_ok"] == 0.0
    assert run("reversed")["direction_ok"] == 0.0
    wrong = run("wrong-colour")
    assert wrong["color_ok"] == 0.0 and wrong["all_ok"] == 0.0


@pytest.fixture(scope="module")
def continuity_run():
    settings = continuity.ContinuitySettings(n=1, chunks=3, chunk_frames=9, cond_frames=3, size=64)
    cases = continuity.build_cases(settings)
    return settings, cases, continuity.build_oracle(cases)


def test_extension_bookkeeping(continuity_run):
    settings, cases, oracle = continuity_run
    assert settings.total_frames == 9 + 2 * 6
    assert settings.join_frames() == [9, 15]
    video = continuity.extend_many(oracle, cases[0], settings)
    np.testing.assert_array_equal(video, cases[0].video)  # the oracle's chunks join into the true clip


class RepeatingModel:
    """Each chunk is right on its own but replays its context first (starts where the context started):
    the objects jump back at every join — the classic extension seam."""

    name = "repeating"

    def __init__(self, oracle):
        self.oracle = oracle

    def continue_video(self, prefix, num_frames, caption=None, seed=0):
        full = self.oracle.continue_video(prefix, num_frames, caption, seed)
        return np.concatenate([prefix, full[: num_frames - len(prefix)]])


def test_continuity_ground_truth_vs_seams_and_lost_objects(continuity_run):
    settings, cases, oracle = continuity_run

    def run(model):
        records, _ = continuity.evaluate_continuity(model, cases, settings, progress=False)
        return continuity.summarize(records)

    gt = run(oracle)
    assert gt["present_at_end"] == 1.0 and gt["all_present_at_end"] == 1.0
    assert gt["join_velocity_error"] < 0.15 and gt["inside_velocity_error"] < 0.15
    seams = run(RepeatingModel(oracle))
    assert seams["join_velocity_error"] > 5 * max(gt["join_velocity_error"], seams["inside_velocity_error"])
    frozen = run(load_model("frozen", oracle))  # no motion: wrong everywhere by about the speed (0.3-0.6)
    assert frozen["inside_velocity_error"] > 0.25
    wrong = run(load_model("wrong-colour", oracle))
    assert wrong["present_at_end"] == 0.0 and wrong["all_present_at_end"] == 0.0
