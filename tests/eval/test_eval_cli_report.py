import json

import numpy as np
import pytest

from kinema.cli import main
from kinema.eval import physics
from kinema.eval.model_under_test import BackendVideoModel, valid_num_frames
from kinema.eval.runner import run_physics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from kinema.pipelines import create_random_model_folder

    return create_random_model_folder(tmp_path_factory.mktemp("models") / "tiny", preset="tiny", seed=0)


def test_tiny_random_pipeline_runs_physics_quick_end_to_end(tiny_model, tmp_path):
    out = tmp_path / "report"
    argv = [
        "eval",
        "physics",
        "--model",
        str(tiny_model),
        "--quick",
        "--scenario",
        "uniform",
        "--split",
        "id",
    ]
    argv += ["--n", "1", "--size", "32", "--steps", "1", "--seed", "4", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    report = json.loads((out / "physics.json").read_text())
    assert report["benchmark"] == "physics" and report["model"] == str(tiny_model)
    assert "git_commit" in report and report["kinema_version"]
    assert report["settings"] == {
        "scenarios": ["uniform"],
        "splits": ["id"],
        "n": 1,
        "size": 32,
        "num_frames": 32,
        "cond_frames": 3,
        "seed": 4,
        "num_inference_steps": 1,
    }
    assert set(report["records"]) == {"tiny", "ground-truth"}
    (rec,) = report["records"]["tiny"]
    assert rec["scenario"] == "uniform" and rec["split"] == "id" and 1.0 <= rec["initial_speed"] <= 4.0
    assert 0.0 <= rec["detected"] <= 1.0
    (floor,) = report["records"]["ground-truth"]
    assert floor["detected"] > 0.8 and floor["velocity_error"] < 0.5
    for png in ("physics_error_vs_velocity.png", "physics_samples.png"):
        data = (out / png).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000
    md = (out / "physics.md").read_text()
    assert "| uniform | id | all | 1 |" in md and "physics_samples.png" in md


def test_pipeline_adapter_continues_the_prefix_with_the_asked_length(tiny_model):
    model = BackendVideoModel(tiny_model, num_inference_steps=1)
    prefix = np.full((3, 32, 32, 3), 255, dtype=np.uint8)
    a = model.continue_video(prefix, 7, "a red ball moves right", seed=1)
    assert a.shape == (7, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a[:3], prefix)  # the prefix is kept as given
    np.testing.assert_array_equal(a, model.continue_video(prefix, 7, "a red ball moves right", seed=1))
    assert [valid_num_frames(n) for n in (1, 2, 5, 9, 32)] == [1, 5, 5, 9, 33]


class JitterModel:
    """A seeded stand-in for a generative model: the truth shifted by a seed-dependent number of pixels."""

    name = "jitter"

    def __init__(self, oracle):
        self.oracle = oracle

    def continue_video(self, prefix, num_frames, caption=None, seed=0):
        video = self.oracle.continue_video(prefix, num_frames, caption, seed)
        shift = np.random.default_rng(seed).integers(-3, 4, size=num_frames)
        return np.stack([np.roll(f, int(s), axis=1) for f, s in zip(video, shift)])


def test_report_numbers_are_reproducible_from_its_json_seeds(tmp_path):
    settings = physics.PhysicsSettings(scenarios=("collision",), splits=("id",), n=2, size=32, seed=7)
    first = run_physics(JitterModel, settings, tmp_path / "a", progress=False)
    saved = json.loads((tmp_path / "a" / "physics.json").read_text())
    again = run_physics(
        JitterModel, physics.PhysicsSettings.from_json(saved["settings"]), tmp_path / "b", progress=False
    )
    assert json.loads((tmp_path / "b" / "physics.json").read_text())["records"] == saved["records"]
    assert again["summary"] == first["summary"]
    # another seed gives other numbers, so the check above could fail
    other_settings = physics.PhysicsSettings.from_json({**saved["settings"], "seed": 8})
    other_cases = physics.build_cases(other_settings)
    other, _ = physics.evaluate_physics(
        JitterModel(physics.build_oracle(other_cases)), other_cases, other_settings, progress=False
    )
    assert [r["velocity_error"] for r in other] != [r["velocity_error"] for r in first["records"]["jitter"]]


def test_cli_from_json_reruns_the_same_settings(tmp_path, capsys):
    base = [
        "eval",
        "physics",
        "--scenario",
        "parabola",
        "--split",
        "ood",
        "--n",
        "2",
        "--size",
        "32",
        "--no-progress",
    ]
    assert main([*base, "--model", "reversed", "--seed", "2", "--out", str(tmp_path / "a")]) == 0
    assert (
        main(
            [
                "eval",
                "physics",
                "--from-json",
                str(tmp_path / "a" / "physics.json"),
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    a = json.loads((tmp_path / "a" / "physics.json").read_text())
    b = json.loads((tmp_path / "b" / "physics.json").read_text())
    assert b["model"] == "reversed" and b["settings"] == a["settings"] and b["records"] == a["records"]


def test_cli_errors_say_what_to_do(tmp_path, capsys):
    assert main(["eval", "physics", "--model", "ground-truth", "--scenario", "bounce"]) == 2
    assert "--scenario 'bounce' is unknown" in capsys.readouterr().err
    assert main(["eval", "physics", "--model", str(tmp_path / "nope"), "--n", "1", "--size", "16"]) == 2
    assert "not a Kinema model folder" in capsys.readouterr().err
    assert main(["eval", "adherence", "--from-json", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the report" in capsys.readouterr().err


def test_cli_writes_every_benchmark_report(tmp_path, capsys):
    runs = {
        "adherence": ["--n", "1", "--size", "64", "--frames", "5"],
        "camera": ["--quick", "--size", "32", "--frames", "5"],
        "continuity": ["--quick", "--size", "64", "--chunk-frames", "5"],
    }
    for bench, extra in runs.items():
        out = tmp_path / bench
        assert (
            main(["eval", bench, "--model", "ground-truth", "--out", str(out), "--no-progress", *extra]) == 0
        )
        report = json.loads((out / f"{bench}.json").read_text())
        assert report["benchmark"] == bench and report["settings"]["seed"] == 0
        assert list(report["summary"]) == ["ground-truth"]
        assert (out / f"{bench}.md").read_text().startswith("# ")
        assert all(p.read_bytes().startswith(PNG_MAGIC) for p in out.glob("*.png")) and any(out.glob("*.png"))
    assert (
        json.loads((tmp_path / "camera" / "camera.json").read_text())["summary"]["ground-truth"][
            "sign_accuracy"
        ]
        == 1.0
    )
    assert "Note" not in (tmp_path / "adherence" / "adherence.md").read_text()
    # too few pixels for the parser: the ground truth fails, and the report says the measurement can't be trusted
    small = ["eval", "adherence", "--model", "ground-truth", "--n", "1", "--size", "32", "--frames", "5"]
    assert main([*small, "--seed", "3", "--out", str(tmp_path / "small"), "--no-progress"]) == 0
    assert "measurement is unreliable" in (tmp_path / "small" / "adherence.md").read_text()
    assert main(["eval"]) == 2  # no benchmark: the help, and a failing exit code
    assert "physics" in capsys.readouterr().out


def test_physics_mode_runs_beside_plain_mode(tiny_model, tmp_path):
    out = tmp_path / "both"
    argv = ["eval", "physics", "--model", str(tiny_model), "--scenario", "uniform", "--split", "ood"]
    argv += ["--n", "1", "--size", "32", "--steps", "1", "--out", str(out), "--no-progress", "--physics"]
    assert main(argv) == 0
    report = json.loads((out / "physics.json").read_text())
    assert set(report["summary"]) == {"tiny", "tiny (physics)", "ground-truth"}  # rows side by side
    md = (out / "physics.md").read_text()
    assert "tiny (physics)" in md and md.count("| uniform | ood |") >= 2
    assert main(["eval", "physics", "--model", "frozen", "--n", "1", "--size", "32", "--physics"]) == 2


def test_physics_candidates_are_measured_and_a_report_reruns_in_physics_mode(tiny_model, tmp_path):
    out = tmp_path / "cands"
    argv = ["eval", "adherence", "--model", str(tiny_model), "--n", "1", "--size", "32", "--frames", "5"]
    argv += ["--steps", "1", "--no-progress", "--physics", "only", "--physics-candidates", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "adherence.json").read_text())
    assert set(report["summary"]) == {"tiny (physics) ×2", "ground-truth"}
    assert report["settings"]["physics_candidates"] == 2 and report["settings"]["physics"] == "only"
    again = tmp_path / "again"
    rerun = [
        "eval",
        "adherence",
        "--from-json",
        str(out / "adherence.json"),
        "--no-progress",
        "--out",
        str(again),
    ]
    assert main(rerun) == 0  # the rerun keeps physics mode and the candidates, not just the seeds
    assert set(json.loads((again / "adherence.json").read_text())["summary"]) == set(report["summary"])
    plain = ["eval", "adherence", "--model", str(tiny_model), "--n", "1", "--physics-candidates", "2"]
    assert main(plain) == 2  # candidates without physics mode: a clear error


def test_candidates_on_an_extension_benchmark_are_refused_before_the_model_loads(tmp_path, capsys):
    missing = tmp_path / "no-such-model"  # loading it would fail with another message
    argv = ["eval", "physics", "--model", str(missing), "--n", "1", "--size", "32", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path), "--physics", "--physics-candidates", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        "continues given frames" in err and "drop --physics-candidates" in err and "no-such-model" not in err
    )
    assert main([*argv, "--out", str(tmp_path), "--physics"]) == 2  # the same run with one candidate loads it
    assert "no-such-model" in capsys.readouterr().err
