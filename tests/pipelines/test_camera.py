import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.pipelines.camera import CAMERA_PRESETS, camera_axes, camera_control_from_args, camera_vector
from kinema.world import camera as world_camera


def test_simple_axis_becomes_a_constant_vector_in_contract_order():
    vec = camera_vector(
        {"type": "simple", "config": {"zoom": 5, "pan": 0}}, num_latent_frames=3, batch_size=2
    )
    assert vec.shape == (2, 3, 6)
    assert torch.equal(vec[1, 2], torch.tensor([0, 0, 0, 0, 0, 0.5]))
    assert camera_vector(None, 3) is None


def test_presets_are_the_worlds_compositions():
    assert CAMERA_PRESETS is world_camera.PRESETS
    vec = camera_vector({"type": "forward_up"}, 2)
    assert torch.allclose(vec[0, 0], torch.tensor([0, 0, 0.5, 0, 0, -0.5]))


def test_jimeng_style_moves_and_speeds():
    assert camera_axes({"type": "zoom_in", "speed": "fast"}) == {"zoom": -10.0}
    assert camera_axes({"type": "pan_left", "speed": 0.5}) == {"tilt": -5.0}
    assert camera_axes({"type": "down_back", "speed": "slow"}) == {"vertical": -3.0, "zoom": 3.0}
    assert camera_axes({"type": "static"}) == {}


@pytest.mark.parametrize(
    "control, message",
    [
        ({"type": "simple", "config": {"zoom": 5, "pan": 2}}, "exactly one non-zero axis"),
        ({"type": "simple", "config": {}}, "exactly one non-zero axis"),
        ({"type": "simple", "config": {"zoom": 11}}, "outside"),
        ({"type": "simple", "config": {"dolly": 1}}, "Unknown camera axis"),
        ({"type": "forward_up", "config": {"zoom": 3}}, "takes no config"),
        ({"type": "spin"}, "Unknown camera_control type"),
        ({"type": "zoom_in", "speed": "warp"}, "Unknown camera speed"),
        ({"type": "simple", "config": {"zoom": "a lot"}}, "must be a number"),
        ("zoom", "must be an object"),
    ],
)
def test_invalid_requests_say_what_is_wrong(control, message):
    with pytest.raises(InvalidInputError, match=message):
        camera_vector(control, 3)


def test_cli_form():
    assert camera_control_from_args(["zoom=5"]) == {"type": "simple", "config": {"zoom": 5.0}}
    assert camera_control_from_args(["zoom=5,pan=-2"])["type"] == "custom"
    assert camera_control_from_args([], "forward_up:fast") == {"type": "forward_up", "speed": "fast"}
    assert camera_control_from_args([]) is None
    with pytest.raises(InvalidInputError, match="axis=value"):
        camera_control_from_args(["zoom"])
    with pytest.raises(InvalidInputError, match="not both"):
        camera_control_from_args(["zoom=1"], "forward_up")
