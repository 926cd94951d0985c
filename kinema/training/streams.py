"""Batch streams with a saveable position, so a resumed run sees exactly the batches it would have seen.

- `IndexStream` walks a map-style source (a latent pool, a toy dataset) in a seeded permutation per epoch.
  The global batch of one micro-step is `batch_size * world_size` consecutive entries of the permutation;
  rank r takes its slice. So two processes with batch b see the same samples as one process with batch 2b.
- `IterStream` wraps an on-the-fly `IterableDataset` (world clips): its position is the number of samples
  taken; resuming asks for an iterator that starts there.
- `BucketStream` walks a bucketed folder dataset in batches of one shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from kinema.errors import InvalidInputError


def _clip_options(cfg: Any) -> dict[str, Any]:
    """The clip size, length, rate and seed of a recipe, which every on-the-fly source takes."""
    d = cfg.data
    return {
        "width": d.width,
        "height": d.height,
        "num_frames": d.num_frames,
        "fps": d.fps,
        "seed": cfg.train.seed,
    }


def world_dataset(cfg: Any, **overrides: Any):
    """The on-the-fly WorldClipDataset of a recipe's data section (VAE and DiT jobs draw clips the same way);
    `overrides` (e.g. another bucket's width/height and seed) win over the recipe."""
    from kinema.world.dataset import WorldClipDataset

    return WorldClipDataset(**{**_clip_options(cfg), **cfg.data.world, **overrides})


def aspect_buckets(cfg: Any) -> list[tuple[int, int]]:
    """(width, height) of each of the recipe's aspect buckets: `data.aspect_ratios` at about the native
    area, on the model grid (`kinema.pipelines.sizes`, the same sizes `--aspect` asks for); the recipe's own
    size alone when no ratios are given."""
    from kinema.pipelines.sizes import size_for_aspect

    d = cfg.data
    if not d.aspect_ratios:
        return [(d.width, d.height)]
    return [size_for_aspect(r, d.width * d.height, d.size_multiple) for r in d.aspect_ratios]


class IndexStream:
    def __init__(
        self,
        size: int,
        batch_size: int,
        fetch: Callable[[list[int]], Any],
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
    ):
        global_batch = batch_size * world_size
        if size < global_batch:
            raise InvalidInputError(
                f"the data has {size} samples, fewer than one global batch ({global_batch} = batch_size x "
                "processes); raise data.pool_size or lower train.batch_size"
            )
        self.size, self.batch_size, self.fetch = size, batch_size, fetch
        self.rank, self.world_size, self.seed, self.shuffle = rank, world_size, seed, shuffle
        self.epoch = 0
        self.cursor = 0
        self._perm: list[int] | None = None

    def _permutation(self) -> list[int]:
        if self._perm is None:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
                self._perm = torch.randperm(self.size, generator=g).tolist()
            else:
                self._perm = list(range(self.size))
        return self._perm

    def next_indices(self) -> list[int]:
        global_batch = self.batch_size * self.world_size
        if self.cursor + global_batch > self.size:  # drop the ragged tail; next epoch
            self.epoch += 1
            self.cursor = 0
            self._perm = None
        perm = self._permutation()
        start = self.cursor + self.rank * self.batch_size
        self.cursor += global_batch
        return perm[start : start + self.batch_size]

    def next_batch(self) -> Any:
        return self.fetch(self.next_indices())

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._perm = None


class IterStream:
    """`make_iterator(position)` returns an iterator that starts at sample `position` of this rank's
    stream (the world dataset does this without rendering the skipped clips)."""

    def __init__(
        self,
        make_iterator: Callable[[int], Iterator[Any]],
        batch_size: int,
        collate: Callable[[list[Any]], Any],
    ):
        self.make_iterator, self.batch_size, self.collate = make_iterator, batch_size, collate
        self.consumed = 0
        self._it: Iterator[Any] | None = None

    def next_batch(self) -> Any:
        if self._it is None:
            self._it = iter(self.make_iterator(self.consumed))
        items = [next(self._it) for _ in range(self.batch_size)]
        self.consumed += len(items)
        return self.collate(items)

    def state_dict(self) -> dict[str, int]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consumed = int(state["consumed"])
        self._it = None


class BucketStream:
    """Batches of one shape from a bucketed folder dataset (`kinema.data.BucketBatchSampler`), with a
    saveable position (epoch, batch cursor). Incomplete batches are dropped so every rank steps together."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        fetch: Callable[[list[int]], Any],
        rank: int,
        world_size: int,
        seed: int,
    ):
        from kinema.data.sampler import BucketBatchSampler

        self.dataset, self.fetch = dataset, fetch
        self.sampler = BucketBatchSampler(
            dataset, batch_size, seed=seed, drop_last=True, rank=rank, world_size=world_size
        )
        self.epoch = 0
        self.cursor = 0
        self._batches: list[list[int]] | None = None

    def _epoch_batches(self) -> list[list[int]]:
        if self._batches is None:
            self.sampler.set_epoch(self.epoch)
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(self.epoch)
            self._batches = list(iter(self.sampler))
            if not self._batches:
                raise InvalidInputError(
                    "the folder dataset has no full batch in any bucket; lower train.batch_size"
                )
        return self._batches

    def next_batch(self) -> Any:
        if self._batches is not None and self.cursor >= len(self._batches):
            self.epoch += 1
            self.cursor = 0
            self._batches = None
        batches = self._epoch_batches()
        if self.cursor >= len(batches):
            self.epoch, self.cursor, self._batches = self.epoch + 1, 0, None
            batches = self._epoch_batches()
        indices = batches[self.cursor]
        self.cursor += 1
        return self.fetch(indices)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._batches = None


class _IndexFn(torch.utils.data.Dataset):
    def __init__(self, fn: Callable[[int], Any]):
        self.fn = fn

    def __getitem__(self, j: int) -> Any:
        return self.fn(j)


class _CountFrom(torch.utils.data.Sampler):
    def __init__(self, start: int):
        self.start = start

    def __iter__(self) -> Iterator[int]:
        j = self.start
        while True:
            yield j
            j += 1


class LoaderStream:
    """Sample j of this rank's endless stream is `item(j)`, made by `num_workers` DataLoader workers in
    order; the position is the number of samples taken, so resuming starts exactly where the run stopped."""

    def __init__(
        self,
        item: Callable[[int], Any],
        batch_size: int,
        collate: Callable[[list[Any]], Any],
        num_workers: int,
    ):
        self.item, self.batch_size, self.collate, self.num_workers = item, batch_size, collate, num_workers
        self.consumed = 0
        self._it: Iterator[Any] | None = None

    def next_batch(self) -> Any:
        if self._it is None:
            loader = torch.utils.data.DataLoader(
                _IndexFn(self.item),
                batch_size=self.batch_size,
                sampler=_CountFrom(self.consumed),
                num_workers=self.num_workers,
                collate_fn=self.collate,
                prefetch_factor=2,
            )
            self._it = iter(loader)
        batch = next(self._it)
        self.consumed += self.batch_size
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consumed = int(state["consumed"])
        self._it = None


class WorldItem:
    """Sample j of rank r's world stream: clip `start + r + j * world_size` (the clips IterStream's
    on-the-fly iteration gives this rank, in the same order)."""

    def __init__(self, dataset: Any, rank: int, world_size: int):
        self.dataset, self.rank, self.world_size = dataset, rank, world_size

    def __call__(self, j: int) -> Any:
        index = self.dataset.config.start + self.rank + j * self.world_size
        return self.dataset.render([index])[0]


class RoundRobinStream:
    """Batch k comes from stream k mod n: one shape per batch (aspect buckets), every bucket equally often,
    and a saveable position (the turn and each stream's own position)."""

    def __init__(self, streams: list[Any]):
        self.streams = streams
        self.turn = 0

    def next_batch(self) -> Any:
        batch = self.streams[self.turn % len(self.streams)].next_batch()
        self.turn += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "streams": [s.state_dict() for s in self.streams]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.turn = int(state["turn"])
        for stream, sub in zip(self.streams, state["streams"], strict=True):
            stream.load_state_dict(sub)


def world_stream(cfg: Any, batch_size: int, rank: int, world_size: int):
    """Batches of on-the-fly world clips for one rank: rank r takes clips r, r + R, r + 2R, ..., so position
    p starts at clip index p * R + r; with data workers the same clips are rendered in parallel processes.
    With several aspect buckets, batches take turns among them; bucket b > 0 draws its scenes with seed
    `train.seed + 1000 b`, so the buckets do not repeat one another's scenes."""
    from kinema.world.dataset import collate_clips

    workers = cfg.data.num_workers
    streams = []
    for b, (width, height) in enumerate(aspect_buckets(cfg)):
        bucket = {"width": width, "height": height, "seed": cfg.train.seed + 1000 * b}
        if workers > 0:
            dataset = world_dataset(cfg, **bucket)
            streams.append(
                LoaderStream(WorldItem(dataset, rank, world_size), batch_size, collate_clips, workers)
            )
        else:
            streams.append(
                IterStream(
                    lambda pos, bucket=bucket: iter(
                        world_dataset(cfg, **bucket, start=pos * world_size, rank=rank, world_size=world_size)
                    ),
                    batch_size,
                    collate_clips,
                )
            )
    return streams[0] if len(streams) == 1 else RoundRobinStream(streams)


def codec_dataset(cfg: Any, **overrides: Any):
    """The codec mix of a recipe's data section (`data.source: codec`, options under `data.codec`)."""
    from kinema.world.codec_mix import CodecMixDataset

    return CodecMixDataset(**{**_clip_options(cfg), **cfg.data.codec, **overrides})


def codec_stream(cfg: Any, batch_size: int, rank: int, world_size: int) -> IterStream:
    """Batches of codec clips for one rank (clip p * R + r at position p, as `world_stream`)."""
    return IterStream(
        lambda pos: iter(codec_dataset(cfg, start=pos * world_size, rank=rank, world_size=world_size)),
        batch_size,
        lambda items: {"video": torch.stack([i["video"] for i in items])},
    )
