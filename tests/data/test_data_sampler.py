"""BucketBatchSampler: homogeneous batches, coverage, determinism, DDP sharding."""

from __future__ import annotations

import pytest

from kinema.data import BucketBatchSampler
from kinema.errors import InvalidInputError

VIDEO_A, VIDEO_B, IMAGE = (9, 32, 48), (9, 48, 32), (1, 32, 32)
# 10 + 7 + 11 samples, interleaved as a real folder would be
KEYS = [VIDEO_A] * 10 + [VIDEO_B] * 7 + [IMAGE] * 11
KEYS = [KEYS[i] for i in sorted(range(len(KEYS)), key=lambda i: (i * 7919) % 28)]


def flat(batches):
    return [i for b in batches for i in b]


def test_batches_homogeneous_and_cover_every_index_once():
    sampler = BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4 + 3 + 3  # ceil(10/3) + ceil(7/3) + ceil(11/4)
    for b in batches:
        assert len({KEYS[i] for i in b}) == 1
        assert len(b) <= (4 if KEYS[b[0]] == IMAGE else 3)
    assert sorted(flat(batches)) == list(range(len(KEYS)))


def test_drop_last_drops_incomplete_batches():
    batches = list(BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4, drop_last=True))
    assert [len(b) for b in batches].count(3) == 3 + 2 and [len(b) for b in batches].count(4) == 2
    assert len(batches) == 7


def test_deterministic_by_seed_and_epoch():
    a = BucketBatchSampler(KEYS, batch_size=3, seed=5)
    b = BucketBatchSampler(KEYS, batch_size=3, seed=5)
    assert list(a) == list(b)
    assert list(a) != list(BucketBatchSampler(KEYS, batch_size=3, seed=6))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(flat(list(a))) == sorted(flat(first))
    unshuffled = list(BucketBatchSampler(KEYS, batch_size=3, shuffle=False))
    assert all(b == sorted(b) for b in unshuffled)


def test_rank_shards_disjoint_and_covering():
    # 4 + 3 + 3 = 10 batches over 2 ranks: divisible, so shards are exactly a partition.
    shards = [
        list(BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4, seed=1, rank=r, world_size=2))
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 5
    assert set(flat(shards[0])).isdisjoint(flat(shards[1]))
    assert sorted(flat(shards[0]) + flat(shards[1])) == list(range(len(KEYS)))
    whole = list(BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4, seed=1))
    assert sorted(map(tuple, shards[0] + shards[1])) == sorted(map(tuple, whole))


def test_uneven_shards_have_equal_length():
    # 10 batches over 3 ranks: padded to 12 (every rank 4 batches, all indices covered) or cut to 9.
    padded = [
        list(BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4, rank=r, world_size=3))
        for r in range(3)
    ]
    assert [len(s) for s in padded] == [4, 4, 4]
    assert set(flat(sum(padded, []))) == set(range(len(KEYS)))
    cut = [
        list(BucketBatchSampler(KEYS, batch_size=3, image_batch_size=4, drop_last=True, rank=r, world_size=3))
        for r in range(3)
    ]
    assert [len(s) for s in cut] == [2, 2, 2]  # 7 full batches -> 6
    assert len(set(flat(sum(cut, [])))) == len(flat(sum(cut, [])))  # disjoint


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="batch_size"):
        BucketBatchSampler(KEYS, batch_size=0)
    with pytest.raises(InvalidInputError, match="rank"):
        BucketBatchSampler(KEYS, batch_size=2, rank=2, world_size=2)
