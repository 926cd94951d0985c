"""The codec's training mix: deterministic per (seed, index), shardable, and as wide as promised."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.world.codec_mix import NAMED, CodecMixConfig, CodecMixDataset, plan


def test_a_clip_is_a_pure_function_of_seed_and_index():
    a = CodecMixDataset(width=32, height=32, num_frames=5, seed=3).render([7, 2])
    b = CodecMixDataset(width=32, height=32, num_frames=5, seed=3).render([2, 7])
    assert torch.equal(a[0]["video"], b[1]["video"]) and torch.equal(a[1]["video"], b[0]["video"])
    other = CodecMixDataset(width=32, height=32, num_frames=5, seed=4).render([7])
    assert not torch.equal(a[0]["video"], other[0]["video"])
    video = a[0]["video"]
    assert video.shape == (3, 5, 32, 32) and video.min() >= -1 and video.max() <= 1


def test_ranks_take_disjoint_clips_that_together_are_the_single_stream():
    def first(n, **kw):
        return [item["video"] for item in itertools.islice(iter(CodecMixDataset(**kw)), n)]

    kw = {"width": 16, "height": 16, "num_frames": 5, "chunk": 2}
    single = first(4, **kw)
    r0, r1 = first(2, rank=0, world_size=2, **kw), first(2, rank=1, world_size=2, **kw)
    for mine, theirs in zip([r0[0], r1[0], r0[1], r1[1]], single):
        assert torch.equal(mine, theirs)


def test_the_mix_spans_sizes_colours_motion_and_backgrounds():
    cfg = CodecMixConfig()
    plans = [plan(i, cfg) for i in range(300)]
    sizes = np.concatenate([p["sizes"] for p in plans])
    assert sizes.min() >= cfg.size_range[0] and sizes.max() <= cfg.size_range[1]
    assert (sizes < 0.4).mean() > 0.15 and (sizes > 1.5).mean() > 0.15  # log-uniform: small ones as common
    colors = np.concatenate([p["colors"] for p in plans])
    named = (np.abs(colors[:, None] - NAMED[None]).max(-1) < 1e-6).any(1)
    assert 0.5 < named.mean() < 0.8  # named colours and random ones beyond them
    counts = np.array([len(p["sizes"]) for p in plans])
    assert counts.min() == 1 and counts.max() == cfg.max_objects
    speeds = np.concatenate([np.abs(np.diff(p["centers"], axis=0)).max(axis=(0, 2)) for p in plans])
    assert (speeds == 0).any() and speeds.max() * cfg.fps > 4.5  # at rest and beyond the paper's OOD speeds
    kinds = {p["background"]["kind"] for p in plans}
    assert kinds == {0, 1, 2, 3}  # flat, checker, grid, noise
    moving_camera = [not np.allclose(p["homographies"][0], p["homographies"][-1]) for p in plans]
    assert 0.1 < np.mean(moving_camera) < 0.4


def test_unknown_or_impossible_options_say_what_is_allowed():
    with pytest.raises(InvalidInputError, match="unknown data.codec option"):
        CodecMixDataset(colour_prob=0.5)
    with pytest.raises(InvalidInputError, match="size_range"):
        CodecMixDataset(size_range=(2.0, 1.0))
    with pytest.raises(InvalidInputError, match="probability"):
        CodecMixDataset(texture_prob=1.5)


def test_paper_prob_mixes_in_the_benchmark_scenes_as_the_world_dataset_renders_them():
    from kinema.world.codec_mix import is_paper
    from kinema.world.dataset import WorldDataConfig, plan_clip, render_plans

    ds = CodecMixDataset(num_frames=5, paper_prob=0.5, seed=3)
    flags = [is_paper(i, ds.config) for i in range(400)]
    assert 0.4 < np.mean(flags) < 0.6  # the share asked for
    assert not any(is_paper(i, CodecMixDataset(paper_prob=0.0).config) for i in range(50))
    first = flags.index(True)
    clip = ds.render([first])[0]["video"]
    split = "ood" if np.random.default_rng([3, first, 27]).random() < 0.5 else "id"
    world = WorldDataConfig(
        scenarios=("uniform", "collision", "parabola"), num_frames=5, split=split, texture_prob=0.2, seed=3
    )
    expected = render_plans([plan_clip(first, world)], world.max_objects)[0]["video"]
    assert torch.equal(clip, expected)
    generic = flags.index(False)  # the others are the generic mix, unchanged
    assert torch.equal(
        ds.render([generic])[0]["video"], CodecMixDataset(num_frames=5, seed=3).render([generic])[0]["video"]
    )
    with pytest.raises(InvalidInputError, match="paper_prob"):
        CodecMixDataset(paper_prob=1.5)
