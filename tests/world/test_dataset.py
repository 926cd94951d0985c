"""WorldClipDataset: item contract, determinism, disjoint shards, batch-vs-single equality."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from kinema.errors import InvalidInputError
from kinema.world.dataset import WorldClipDataset, collate_clips
from kinema.world.parser import parse_video


def _small(**kw):
    base = dict(size=(24, 16), num_frames=5, num_clips=6, camera_prob=0.5, texture_prob=0.5, seed=1, chunk=3)
    base.update(kw)
    return WorldClipDataset(**base)


def test_items_follow_the_contract():
    items = list(_small())
    assert len(items) == 6
    for it in items:
        assert it["video"].dtype == torch.float32 and it["video"].shape == (3, 5, 16, 24)
        assert it["video"].min() >= -1 and it["video"].max() <= 1
        assert it["camera"].shape == (5, 6) and it["camera"].dtype == torch.float32
        assert it["camera"].abs().max() <= 1
        assert it["tracks"].shape == (4, 5, 8) and it["tracks"].dtype == torch.float32
        n = len(it["spec"]["objects"])
        assert not it["tracks"][n:].any()  # padding
        assert isinstance(it["caption"], str) and it["caption"].endswith(".")
        static = it["spec"]["camera"]["preset"] is None and not any(
            it["spec"]["camera"][a] for a in ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
        )
        assert (it["camera"].abs().sum() == 0) == static
    batch = collate_clips(items[:4])
    assert batch["video"].shape == (4, 3, 5, 16, 24) and batch["tracks"].shape == (4, 4, 5, 8)
    assert len(batch["caption"]) == 4 and len(batch["spec"]) == 4


def test_tracks_point_at_the_rendered_balls():
    ds = WorldClipDataset(size=(64, 64), num_frames=6, scenarios=("uniform",), num_clips=2, seed=4)
    for it in ds:
        frames = ((it["video"].permute(1, 2, 3, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
        red = parse_video(frames)["red"]
        tr = it["tracks"][0].numpy()
        ok = red.fully_visible
        assert ok.any()
        np.testing.assert_allclose(red.centre_px[ok], tr[ok, :2], atol=0.3)
        assert (tr[ok, 2] == 1).all()


def test_same_seed_same_bytes_and_different_seed_differs():
    a = [it["video"].numpy().tobytes() for it in _small()]
    b = [it["video"].numpy().tobytes() for it in _small()]
    c = [it["video"].numpy().tobytes() for it in _small(seed=2)]
    assert a == b and a != c
    single = _small().render([4])[0]  # one clip alone = the same clip inside a batch
    assert single["video"].numpy().tobytes() == a[4]


def test_ranks_and_workers_give_disjoint_complete_streams():
    full = [it["spec"]["params"]["index"] for it in _small(num_clips=8)]
    assert full == list(range(8))
    r0 = [it["spec"]["params"]["index"] for it in _small(num_clips=8, rank=0, world_size=2)]
    r1 = [it["spec"]["params"]["index"] for it in _small(num_clips=8, rank=1, world_size=2)]
    assert not set(r0) & set(r1) and sorted(r0 + r1) == full
    loader = DataLoader(_small(num_clips=8), batch_size=None, num_workers=2)
    seen = [it["spec"]["params"]["index"] for it in loader]
    assert sorted(seen) == full
    # resuming at an index gives exactly the tail of the stream
    tail = [it["video"].numpy().tobytes() for it in _small(num_clips=3, start=3)]
    assert tail == [it["video"].numpy().tobytes() for it in _small()][3:6]


def test_bad_options_are_rejected():
    with pytest.raises(InvalidInputError, match="scenarios"):
        WorldClipDataset(scenarios=("spiral",))
    with pytest.raises(InvalidInputError, match="camera_prob"):
        WorldClipDataset(camera_prob=2.0)
    with pytest.raises(InvalidInputError, match="unknown WorldClipDataset option"):
        WorldClipDataset(frames=5)


def test_dataloader_batches_with_the_dataset_collate():
    loader = DataLoader(_small(num_clips=4), batch_size=2, collate_fn=WorldClipDataset.collate_fn)
    batches = list(loader)
    assert (
        len(batches) == 2 and batches[0]["video"].shape == (2, 3, 5, 16, 24) and len(batches[1]["spec"]) == 2
    )
