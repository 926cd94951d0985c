import numpy as np
import pytest
from PIL import Image

from kinema.eval import camera_accuracy
from kinema.eval.model_under_test import load_model
from kinema.eval.motion import estimate_similarity


def _texture_view(tx: float, ty: float, scale: float, angle: float, size: int = 96) -> np.ndarray:
    """A noise texture seen through a known similarity: content moves by (tx, ty), grows by `scale`,
    turns by `angle` (image axes, y down) about the frame centre."""
    rng = np.random.default_rng(0)
    big = np.array(
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).resize((384, 384), Image.BICUBIC)
    )
    c, s = np.cos(angle), np.sin(angle)
    inv = np.array([[c, s], [-s, c]]) / scale  # output -> source
    off = -inv @ np.array([tx, ty])
    centre_src, centre_out = 192.0, size / 2
    a, b = inv[0]
    d, e = inv[1]
    coeffs = (
        a,
        b,
        centre_src + off[0] - a * centre_out - b * centre_out,
        d,
        e,
        centre_src + off[1] - d * centre_out - e * centre_out,
    )
    return np.array(Image.fromarray(big).transform((size, size), Image.AFFINE, coeffs, Image.BICUBIC))


@pytest.mark.parametrize(
    "tx, ty, scale, angle",
    [
        (2.0, 0.0, 1.0, 0.0),
        (0.0, -3.0, 1.0, 0.0),
        (0.0, 0.0, 1.03, 0.0),
        (0.0, 0.0, 1.0, 0.03),
        (1.5, 1.0, 1.02, -0.02),
    ],
)
def test_similarity_estimate_recovers_a_known_motion(tx, ty, scale, angle):
    est = estimate_similarity(_texture_view(0, 0, 1.0, 0.0), _texture_view(tx, ty, scale, angle))
    assert est.tx == pytest.approx(tx, abs=0.15)
    assert est.ty == pytest.approx(ty, abs=0.15)
    assert est.log_scale == pytest.approx(np.log(scale), abs=0.006)
    assert est.angle == pytest.approx(angle, abs=0.006)


@pytest.fixture(scope="module")
def camera_run():
    settings = camera_accuracy.CameraSettings(size=48, num_frames=9, stride=2)
    cases = camera_accuracy.camera_cases(settings)
    oracle = camera_accuracy.build_oracle(cases)
    return settings, cases, oracle


def test_metric_recovers_axis_and_sign_on_world_camera_renders(camera_run):
    settings, cases, oracle = camera_run
    assert len(cases) == 12 + 4  # six axes x two signs, four presets
    records = camera_accuracy.evaluate_camera(oracle, cases, settings, progress=False)
    for r in records:
        assert r["kind_correct"] and r["sign_correct"] and r["all_signs_correct"], r
        assert r["relative_error"] < 0.35, r
    kinds = {r["case"]: r["expected_kind"] for r in records}
    assert kinds["horizontal+10"] == "x" and kinds["pan+10"] == "y" and kinds["roll-10"] == "roll"
    assert kinds["zoom+10"] == "zoom" and kinds["tilt-10"] == "x" and kinds["vertical+10"] == "y"


def test_frozen_and_reversed_cameras_fail(camera_run):
    settings, cases, oracle = camera_run
    frozen = camera_accuracy.evaluate_camera(load_model("frozen", oracle), cases, settings, progress=False)
    # nothing moves: every measured motion is ~0, far below the asked one
    assert all(
        abs(r["measured"][["x", "y", "zoom", "roll"].index(r["expected_kind"])])
        < 0.2 * abs(r["expected"][["x", "y", "zoom", "roll"].index(r["expected_kind"])])
        for r in frozen
    )
    reversed_ = camera_accuracy.evaluate_camera(
        load_model("reversed", oracle), cases, settings, progress=False
    )
    assert not any(r["sign_correct"] for r in reversed_)
    assert all(r["kind_correct"] for r in reversed_)
