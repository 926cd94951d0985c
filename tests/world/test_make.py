"""`kinema world make`: MP4 shards + JSONL, same seed → same bytes, resumable, clear errors."""

import json

import numpy as np
import pytest

from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.io.video import read_video
from kinema.world.dataset import WorldClipDataset
from kinema.world.make import make_dataset
from kinema.world.parser import parse_video

ARGS = [
    "world",
    "make",
    "--scenario",
    "collision,general",
    "--count",
    "3",
    "--size",
    "32x24",
    "--seed",
    "5",
    "--frames",
    "5",
    "--shard-size",
    "2",
    "--camera-prob",
    "0.5",
    "--no-progress",
]


def _files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_make_writes_shards_deterministically_and_resumes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*ARGS, "--out", str(a)]) == 0
    assert main([*ARGS, "--out", str(b)]) == 0
    files = _files(a)
    assert set(files) == {
        "manifest.json",
        "captions.jsonl",
        "shard-00000.jsonl",
        "shard-00001.jsonl",
        "shard-00000/000000.mp4",
        "shard-00000/000001.mp4",
        "shard-00001/000002.mp4",
    }
    assert files == _files(b)  # same seed → same bytes, videos included

    lines = [json.loads(x) for x in files["captions.jsonl"].decode().splitlines()]
    assert [r["index"] for r in lines] == [0, 1, 2]
    rec = lines[2]
    assert rec["spec"]["scenario"] in ("collision", "general") and rec["caption"]
    gt = rec["ground_truth"]
    k = len(rec["spec"]["objects"])
    assert np.array(gt["states"]).shape == (5, k, 6) and np.array(gt["homographies"]).shape == (5, 3, 3)
    assert np.array(gt["camera"]).shape == (5, 6)
    frames, fps = read_video(a / rec["video"])
    assert frames.shape == (5, 24, 32, 3) and fps == pytest.approx(10.0)
    # the disk clip is the on-the-fly clip (up to H.264 loss)
    ds = WorldClipDataset(
        size=(32, 24), num_frames=5, scenarios=("collision", "general"), camera_prob=0.5, seed=5
    )
    item = ds.render([2])[0]
    assert item["caption"] == rec["caption"]
    ref = ((item["video"].permute(1, 2, 3, 0) + 1) * 127.5).numpy()
    assert np.abs(frames.astype(float) - ref).mean() < 6.0

    # resume: a lost shard is rebuilt identically, finished shards are not touched
    (a / "shard-00001.jsonl").unlink()
    (a / "shard-00001" / "000002.mp4").unlink()
    mtime = (a / "shard-00000.jsonl").stat().st_mtime_ns
    assert main([*ARGS, "--out", str(a)]) == 0
    assert _files(a) == files and (a / "shard-00000.jsonl").stat().st_mtime_ns == mtime


def test_make_refuses_other_options_in_the_same_folder(tmp_path, capsys):
    make_dataset(tmp_path, count=1, scenarios=("uniform",), size=(16, 16), num_frames=1, progress=False)
    with pytest.raises(InvalidInputError, match="different options \\(seed\\)"):
        make_dataset(
            tmp_path, count=1, scenarios=("uniform",), size=(16, 16), num_frames=1, seed=1, progress=False
        )
    assert main(["world", "make", "--count", "1", "--out", str(tmp_path), "--size", "16"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert main(["world", "make", "--count", "1", "--out", str(tmp_path), "--scenario", "spiral"]) == 2


def test_parser_reads_the_written_mp4(tmp_path):
    captions = make_dataset(
        tmp_path, count=1, scenarios=("collision",), size=(48, 48), num_frames=9, progress=False
    )
    rec = json.loads(captions.read_text().splitlines()[0])
    tracks = parse_video(tmp_path / rec["video"], world_size=(10, 10), fps=10)
    states = np.array(rec["ground_truth"]["states"])  # (T, 2, 6)
    for k, color in enumerate(("red", "blue")):
        tr = tracks[color]
        assert tr.fully_visible.sum() >= 3
        ok = tr.fully_visible
        np.testing.assert_allclose(tr.centre_world[ok], states[ok, k, :2], atol=0.15)  # H.264 + 4.8 px/unit
