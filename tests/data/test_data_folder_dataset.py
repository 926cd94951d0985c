"""VideoFolderDataset over real MP4/PNG/JPEG files: buckets, items, crops, errors that name the line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from kinema.data import BucketBatchSampler, BucketConfig, VideoFolderDataset
from kinema.errors import InvalidInputError
from kinema.io import read_video, resize_and_crop, write_video

# area 32*32 with sides in multiples of 8: 16:9 -> 40x24, 9:16 -> 24x40, 1:1 -> 32x32
CONFIG = BucketConfig(area=32 * 32, multiple=8, frame_buckets=(5, 9))


def clip(t: int, h: int, w: int, seed: int) -> np.ndarray:
    """Frames that differ from each other (each frame's mean encodes its index), uint8 (T, H, W, 3)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60, size=(1, h, w, 3))
    return (base + 20 * np.arange(t)[:, None, None, None]).clip(0, 255).astype(np.uint8)


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "clips").mkdir()
    write_video(tmp_path / "clips/wide.mp4", clip(9, 36, 64, 0), fps=8)
    write_video(tmp_path / "clips/tall.mp4", clip(7, 64, 36, 1), fps=8)
    write_video(tmp_path / "clips/square.mp4", clip(9, 48, 48, 2), fps=8)
    write_video(tmp_path / "clips/short.mp4", clip(3, 32, 32, 3), fps=8)
    Image.fromarray(np.full((30, 30, 3), 200, np.uint8)).save(tmp_path / "still.png")
    Image.fromarray(np.full((36, 64, 3), 50, np.uint8)).save(tmp_path / "wide.jpg")
    lines = [
        {"video": "clips/wide.mp4", "caption": "wide clip"},
        {"video": "clips/tall.mp4", "caption": "tall clip", "source": "extra fields are fine"},
        "",
        {"video": "clips/square.mp4", "caption": "square clip"},
        {"video": "clips/short.mp4", "caption": "too short"},
        {"image": "still.png", "caption": "a still"},
        {"video": "wide.jpg", "caption": "a wide still"},
        {
            "video": "clips/wide.mp4",
            "caption": "no probe",
            "width": 64,
            "height": 36,
            "num_frames": 9,
            "fps": 8,
        },
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (tmp_path / "captions.jsonl").write_text(text + "\n")
    return tmp_path


def test_bucket_assignment(folder):
    ds = VideoFolderDataset(folder, config=CONFIG, temporal_crop="start")
    assert [s.caption for s in ds.samples] == [
        "wide clip",
        "tall clip",
        "square clip",
        "a still",
        "a wide still",
        "no probe",
    ]
    assert ds.bucket_keys == [(9, 24, 40), (5, 40, 24), (9, 32, 32), (1, 32, 32), (1, 24, 40), (9, 24, 40)]
    assert ds.skipped == [(5, "short.mp4 has 3 frames")]  # line 5 of the JSONL (line 3 is blank)
    assert [s.line for s in ds.samples] == [1, 2, 4, 6, 7, 8]


def test_items_shape_range_and_content(folder):
    ds = VideoFolderDataset(folder, config=CONFIG, temporal_crop="start")
    item = ds[0]
    assert item["caption"] == "wide clip"
    video = item["video"]
    assert video.dtype == torch.float32 and video.shape == (3, 9, 24, 40)
    assert video.min() >= -1 and video.max() <= 1
    decoded, _ = read_video(folder / "clips/wide.mp4")
    expected = np.stack([resize_and_crop(f, 40, 24) for f in decoded])  # (9, 24, 40, 3)
    np.testing.assert_allclose(video.permute(1, 2, 3, 0).numpy(), expected / 127.5 - 1, atol=1e-6)
    tall = ds[1]["video"]
    assert tall.shape == (3, 5, 40, 24)  # 7 frames -> the 5-frame bucket, the first 5
    still = ds[3]["video"]
    assert still.shape == (3, 1, 32, 32)
    assert torch.allclose(still, torch.full_like(still, 200 / 127.5 - 1))


def test_random_temporal_crop_is_seeded(folder):
    ds = VideoFolderDataset(folder, config=CONFIG, temporal_crop="random", seed=3)
    again = VideoFolderDataset(folder, config=CONFIG, temporal_crop="random", seed=3)
    assert torch.equal(ds[1]["video"], again[1]["video"])
    # Frame means rise by 20 per source frame, so the window start shows in the first frame's mean.
    starts = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        first = (ds[1]["video"][:, 0].mean().item() + 1) * 127.5
        starts.add(round((first - 30) / 20))
    assert starts <= {0, 1, 2} and len(starts) > 1  # a 5-frame window in 7 frames starts at 0, 1 or 2


def test_dataloader_with_bucket_sampler(folder):
    ds = VideoFolderDataset(folder, config=CONFIG, temporal_crop="start")
    sampler = BucketBatchSampler(ds, batch_size=2, seed=0)
    shapes = []
    for batch in DataLoader(ds, batch_sampler=sampler):
        assert batch["video"].ndim == 5 and len(batch["caption"]) == batch["video"].shape[0]
        shapes.append(tuple(batch["video"].shape))
    assert sorted(shapes) == sorted(
        [(2, 3, 9, 24, 40), (1, 3, 5, 40, 24), (1, 3, 9, 32, 32), (1, 3, 1, 32, 32), (1, 3, 1, 24, 40)]
    )


def write_jsonl(folder, lines):
    (folder / "bad.jsonl").write_text("\n".join(lines) + "\n")


def test_bad_jsonl_line_is_named(folder):
    good = json.dumps({"video": "clips/wide.mp4", "caption": "ok"})
    write_jsonl(folder, [good, good, '{"video": "clips/wide.mp4", "caption": '])
    with pytest.raises(InvalidInputError, match=r"bad.jsonl, line 3: not valid JSON"):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)
    write_jsonl(folder, [good, json.dumps({"video": "clips/missing.mp4", "caption": "x"})])
    with pytest.raises(InvalidInputError, match=r"line 2: file .*missing.mp4 does not exist"):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)
    write_jsonl(folder, [json.dumps({"video": "clips/wide.mp4"})])
    with pytest.raises(InvalidInputError, match=r"line 1: needs a \"caption\""):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)
    write_jsonl(folder, [json.dumps(["clips/wide.mp4", "x"])])
    with pytest.raises(InvalidInputError, match=r"line 1: expected a JSON object"):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)
    (folder / "junk.mp4").write_bytes(b"junk" * 50)
    write_jsonl(folder, [good, json.dumps({"video": "junk.mp4", "caption": "x"})])
    with pytest.raises(InvalidInputError, match=r"line 2: .*not a readable video"):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)
    with pytest.raises(InvalidInputError, match="does not exist"):
        VideoFolderDataset(folder, captions="nope.jsonl", config=CONFIG)
    write_jsonl(folder, [json.dumps({"video": "clips/short.mp4", "caption": "x"})])
    with pytest.raises(InvalidInputError, match="no usable samples"):
        VideoFolderDataset(folder, captions="bad.jsonl", config=CONFIG)


def test_fixed_shape_config(folder):
    ds = VideoFolderDataset(folder, config=BucketConfig.fixed(32, 16, 5), temporal_crop="start")
    assert set(ds.bucket_keys) == {(5, 16, 32), (1, 16, 32)}
    assert ds[2]["video"].shape == (3, 5, 16, 32)
