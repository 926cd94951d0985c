"""Batches of one bucket at a time, deterministic by seed and epoch, sharded across DDP ranks.

Each epoch: shuffle the indices inside every bucket, cut them into batches, shuffle the order of all
batches (so image and video batches, short and long clips interleave), then give rank ``r`` every
``world_size``-th batch starting at ``r``. Every rank gets the same number of batches — a rank that runs
out early would leave the others waiting in an all-reduce forever — so the batch list is padded by
repeating its first batches (``drop_last=False``) or cut to a multiple of ``world_size``
(``drop_last=True``). Different ranks may train on different shapes in the same step; DDP only reduces
gradients, so that is fine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from kinema.errors import InvalidInputError


class BucketBatchSampler(Sampler[list[int]]):
    """Yield lists of dataset indices whose samples share a bucket key.

    ``keys``: a dataset with ``bucket_keys`` (``VideoFolderDataset``) or the keys themselves.
    ``image_batch_size``: batch size for 1-frame buckets (keys ``(1, H, W)``), which are much cheaper than
    clips; defaults to ``batch_size``. With ``drop_last`` incomplete batches inside a bucket are dropped too.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Any,
        batch_size: int,
        image_batch_size: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        keys = list(keys.bucket_keys if hasattr(keys, "bucket_keys") else keys)
        for name, value in (("batch_size", batch_size), ("image_batch_size", image_batch_size or 1)):
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer; got {value!r}.")
        if not (
            isinstance(world_size, int)
            and world_size >= 1
            and isinstance(rank, int)
            and 0 <= rank < world_size
        ):
            raise InvalidInputError(
                f"rank must be in [0, world_size); got rank={rank}, world_size={world_size}."
            )
        self.keys = keys
        self.batch_size = batch_size
        self.image_batch_size = image_batch_size or batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._by_bucket: dict[Hashable, list[int]] = defaultdict(list)
        for index, key in enumerate(keys):
            self._by_bucket[key].append(index)

    def set_epoch(self, epoch: int) -> None:
        """Call at the start of every epoch (as with DistributedSampler) for a new, reproducible order."""
        self.epoch = epoch

    def _batch_size_for(self, key: Hashable) -> int:
        is_image = isinstance(key, tuple) and len(key) > 0 and key[0] == 1
        return self.image_batch_size if is_image else self.batch_size

    def global_batches(self) -> list[list[int]]:
        """All batches of this epoch, for all ranks, in order (the same on every rank)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        batches: list[list[int]] = []
        for key in sorted(self._by_bucket, key=repr):  # a fixed bucket order, whatever the key type
            indices = list(self._by_bucket[key])
            if self.shuffle:
                indices = [indices[i] for i in rng.permutation(len(indices))]
            size = self._batch_size_for(key)
            for start in range(0, len(indices), size):
                batch = indices[start : start + size]
                if len(batch) == size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _per_rank(self, total: int) -> int:
        return total // self.world_size if self.drop_last else -(-total // self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.global_batches()
        per_rank = self._per_rank(len(batches))
        needed = per_rank * self.world_size
        if needed > len(batches):  # pad by repeating from the front (only when not drop_last)
            batches = batches + [batches[i % len(batches)] for i in range(needed - len(batches))]
        yield from batches[self.rank : needed : self.world_size]

    def __len__(self) -> int:
        return self._per_rank(len(self.global_batches()))
