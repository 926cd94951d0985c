import pytest

from kinema.errors import InvalidInputError
from kinema.pipelines.sizes import (
    ASPECT_RATIOS,
    SizeRules,
    check_num_frames,
    frames_for_seconds,
    resolve_size,
    size_for_aspect,
)

RULES = SizeRules(native_width=256, native_height=256, native_frames=33, max_frames=129, multiple=16)


@pytest.mark.parametrize("aspect", list(ASPECT_RATIOS))
def test_aspect_presets_are_on_the_grid_near_the_native_area(aspect):
    width, height = size_for_aspect(aspect, RULES.native_area, 16)
    a, b = ASPECT_RATIOS[aspect]
    assert width % 16 == 0 and height % 16 == 0
    assert abs(width * height / RULES.native_area - 1) < 0.2
    assert abs((width / height) / (a / b) - 1) < 0.15


def test_reference_sizes():
    assert size_for_aspect("16:9", 256 * 256, 16) == (336, 192)
    assert size_for_aspect("9:16", 256 * 256, 16) == (192, 336)
    assert size_for_aspect("1:1", 256 * 256, 16) == (256, 256)


def test_durations_become_1_plus_4k_frames():
    assert frames_for_seconds(2.0, 16) == 33
    assert frames_for_seconds(5.0, 16) == 81
    assert frames_for_seconds(0.01, 16) == 5  # at least one latent group after the first frame
    assert resolve_size(RULES, seconds=1.0, fps=16).num_frames == 17


def test_defaults_are_native():
    size = resolve_size(RULES)
    assert (size.width, size.height, size.num_frames) == (256, 256, 33)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(width=250, height=256), "multiples of 16"),
        (dict(width=2048, height=2048), "larger than this model"),
        (dict(width=256), "both width and height"),
        (dict(width=256, height=256, aspect_ratio="1:1"), "not both"),
        (dict(aspect_ratio="5:4"), "Unknown aspect ratio"),
        (dict(num_frames=32), r"1 \+ 4k"),
        (dict(num_frames=133), "extend"),
        (dict(num_frames=33, seconds=2), "not both"),
        (dict(seconds=-1, fps=16), "not positive"),
    ],
)
def test_clear_errors(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        resolve_size(RULES, **kwargs)


def test_frame_count_error_suggests_valid_counts():
    with pytest.raises(InvalidInputError, match=r"e\.g\. 29 or 33"):
        check_num_frames(31, RULES)
