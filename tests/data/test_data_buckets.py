"""Aspect-ratio and duration buckets: exact sizes, nearest-ratio assignment, frame-count choice."""

from __future__ import annotations

import pytest

from kinema.data import BucketConfig, make_aspect_buckets, nearest_aspect_bucket, pick_frame_bucket
from kinema.data.buckets import frame_stride
from kinema.errors import InvalidInputError


def test_default_bucket_sizes():
    buckets = make_aspect_buckets(BucketConfig())
    sizes = {b.name: (b.width, b.height) for b in buckets}
    assert sizes == {
        "16:9": (336, 192),
        "9:16": (192, 336),
        "1:1": (256, 256),
        "4:3": (288, 224),
        "3:4": (224, 288),
        "21:9": (384, 160),
    }
    for b in buckets:
        assert b.width % 16 == 0 and b.height % 16 == 0
        assert abs(b.width * b.height / 256**2 - 1) < 0.1  # about the same cost per frame


def test_colliding_ratios_share_one_bucket():
    names = [b.name for b in make_aspect_buckets(BucketConfig(area=64 * 64))]
    assert names == ["16:9", "9:16", "1:1", "21:9"]  # 4:3 and 3:4 snap to 16:9's and 9:16's sizes


@pytest.mark.parametrize(
    "size, name",
    [
        ((1920, 1080), "16:9"),
        ((1080, 1920), "9:16"),
        ((2560, 1080), "21:9"),
        ((640, 480), "4:3"),
        ((480, 640), "3:4"),
        ((1000, 1000), "1:1"),
        ((1000, 900), "1:1"),
        ((33, 17), "16:9"),
    ],
)
def test_nearest_aspect_bucket(size, name):
    assert nearest_aspect_bucket(*size, make_aspect_buckets(BucketConfig())).name == name


def test_frame_buckets():
    assert pick_frame_bucket(10, (5, 9, 17)) == 9
    assert pick_frame_bucket(17, (5, 9, 17)) == 17
    assert pick_frame_bucket(4, (5, 9, 17)) is None
    assert pick_frame_bucket(10, (5, 9), stride=2) == 5  # 9 frames needed for 5 at stride 2; 17 for 9
    assert frame_stride(30, 15) == 2 and frame_stride(24, 30) == 1 and frame_stride(24, None) == 1


def test_config_validation():
    with pytest.raises(InvalidInputError, match="1 \\+ 4k"):
        BucketConfig(frame_buckets=(8, 17))
    with pytest.raises(InvalidInputError, match="area"):
        BucketConfig(area=100)


def test_fixed_config_is_one_shape():
    config = BucketConfig.fixed(64, 48, 17, fps=10)
    buckets = make_aspect_buckets(config)
    assert [(b.width, b.height) for b in buckets] == [(64, 48)]
    assert nearest_aspect_bucket(1080, 1920, buckets).width == 64  # everything goes to the one size
    assert config.frame_buckets == (17,) and config.fps == 10
    with pytest.raises(InvalidInputError, match="1 \\+ 4k"):
        BucketConfig.fixed(64, 48, 16)
    with pytest.raises(InvalidInputError, match="multiples of 16"):
        BucketConfig(sizes=(("odd", 100, 64),))
