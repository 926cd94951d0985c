"""`kinema eval codec`: the VAE's round trip alone, through the paper's parser and the object grid."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.eval import codec
from kinema.models import AutoencoderKinema, vae_config

# Small but complete: every scenario and split, two colours the shipped VAE had trouble with, all shapes,
# a small and a large size, both backgrounds and motions. 32 px and 9 frames keep it to seconds.
SMALL = codec.CodecSettings(size=32, num_frames=9, n=1, colors=("red", "purple"), sizes=(0.5, 2.0))


@pytest.fixture(scope="module")
def truth_report():
    return codec.run_codec("ground-truth", SMALL, progress=False)


@pytest.fixture(scope="module")
def blur_report():
    return codec.run_codec("blur", SMALL, progress=False)


def test_ground_truth_is_the_floor_everywhere(truth_report):
    summary = truth_report["summary"]
    assert len(summary["paper"]) == 6  # 3 scenarios x 2 splits
    for row in summary["paper"]:
        assert row["velocity_error"] == pytest.approx(row["floor_velocity_error"])
        assert row["ratio"] == pytest.approx(1.0)
    cells = summary["cells"]
    assert len(cells) == 2 * 4 * 2  # colours x shapes x sizes
    measured = [c for c in cells if c["frames"] > 0]
    assert all(c["survival"] == 1.0 and c["centre_error_px"] == 0.0 for c in measured)
    # a ring of radius 1.6 px has no pixel of its colour even in the truth: reported apart, not as lost
    assert summary["targets"]["cells_unmeasurable"] == ["red ring r=0.5", "purple ring r=0.5"]
    assert summary["targets"]["cells"] == len(cells) - 2
    assert summary["psnr"]["plain"] > 90 and summary["psnr"]["textured"] > 90
    assert summary["targets"]["objects_met"] and summary["targets"]["ratio_met"]


def test_a_lossy_codec_scores_worse_than_the_truth_on_every_measure(truth_report, blur_report):
    truth, blur = truth_report["summary"], blur_report["summary"]
    for bg in ("plain", "textured"):
        assert blur["psnr"][bg] < truth["psnr"][bg] - 20
    # a 3x3 blur at 32 px spreads a small object's edge over its whole body: it is lost or moved
    small = [c for c in blur["cells"] if c["size"] == 0.5 and c["frames"] > 0]
    assert min(c["survival"] for c in small) < 0.98 or max(c["centre_error_px"] for c in small) > 0.0
    assert not blur["targets"]["objects_met"]
    assert blur["targets"]["ratio_max"] >= 1.0
    # the floor itself is the same clips through the same parser: identical in both runs
    for a, b in zip(truth["paper"], blur["paper"]):
        assert a["floor_velocity_error"] == b["floor_velocity_error"]


def test_object_cases_cover_the_grid_and_stay_in_the_frame():
    cases = codec.object_cases(SMALL)
    assert len(cases) == 2 * 2 * 2 * 4 * 2  # backgrounds x motions x colours x shapes x sizes
    for case in cases:
        x, y = case.states[:, 0, 0], case.states[:, 0, 1]
        assert (x - case.size >= 0).all() and (x + case.size <= 10).all()
        assert (y - case.size >= 0).all() and (y + case.size <= 10).all()
        moving = np.abs(np.diff(case.states[:, 0, :2], axis=0)).sum() > 0
        assert moving == (case.motion == "moving")
    assert {c.spec.background.kind for c in cases if c.background == "textured"} <= {
        "checker",
        "grid",
        "noise",
    }
    assert {c.spec.background.kind for c in cases if c.background == "plain"} == {"flat"}


def test_survival_counts_a_frame_lost_when_the_colour_is_gone():
    case = codec.object_cases(
        codec.CodecSettings(
            size=32,
            num_frames=5,
            colors=("purple",),
            shapes=("circle",),
            sizes=(1.5,),
            backgrounds=("plain",),
            motions=("static",),
        )
    )[0]
    truth = codec.render_objects([case])[0]
    recon = truth.copy()
    recon[2:] = 255  # the object is erased from frame 2 on
    frames = codec.object_frames(case, truth, recon)
    assert frames["frames"] == 5
    assert frames["survival"] == pytest.approx(2 / 5)
    shifted = np.roll(truth, 1, axis=2)  # one pixel to the right
    assert codec.object_frames(case, truth, shifted)["centre_error_px"] == pytest.approx(1.0, abs=0.05)


def test_a_vae_folder_and_a_model_folder_load_the_same_codec(tmp_path):
    torch.manual_seed(0)
    vae = AutoencoderKinema(**vae_config("tiny")).eval()
    vae.save_pretrained(tmp_path / "model" / "vae")
    video = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    a = codec.load_codec(str(tmp_path / "model")).round_trip(video)
    b = codec.load_codec(str(tmp_path / "model" / "vae")).round_trip(video)
    assert a.shape == video.shape
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, vae.decode(vae.encode(video).mode()).clamp(-1, 1))


def test_unknown_models_and_settings_say_what_to_give(tmp_path):
    with pytest.raises(InvalidInputError, match="no VAE at"):
        codec.load_codec(str(tmp_path / "nothing"))
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"_class_name": "WanTransformer3DModel"}))
    with pytest.raises(InvalidInputError, match="not a VAE class"):
        codec.load_codec(str(tmp_path / "odd"))
    with pytest.raises(InvalidInputError, match="unknown color 'mauve'"):
        codec.CodecSettings(colors=("mauve",))


def test_cli_writes_the_report_and_reruns_it_from_json(tmp_path, capsys):
    out = tmp_path / "report"
    args = [
        "eval",
        "codec",
        "--model",
        "blur",
        "--size",
        "32",
        "--frames",
        "5",
        "--n",
        "1",
        "--quick",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    report = json.loads((out / "codec.json").read_text())
    assert report["benchmark"] == "codec" and report["settings"]["size"] == 32
    assert report["settings"]["sizes"] == list(codec.QUICK["sizes"])
    text = (out / "codec.md").read_text()
    assert "Objects kept, by colour and size" in text and "| purple |" in text
    printed = capsys.readouterr().out
    assert "colour x shape x size cells kept" in printed
    again = tmp_path / "again"
    assert (
        main(["eval", "codec", "--from-json", str(out / "codec.json"), "--out", str(again), "--no-progress"])
        == 0
    )
    rerun = json.loads((again / "codec.json").read_text())
    assert rerun["settings"] == report["settings"]
    assert rerun["summary"]["cells"] == report["summary"]["cells"]
    assert math.isfinite(rerun["summary"]["psnr"]["plain"])


def test_the_truth_through_a_codec_is_a_model_for_every_benchmark(tmp_path):
    from kinema.eval.model_under_test import CodecModel, GroundTruthModel

    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)  # 7 frames: not 1 + 4k
    oracle = GroundTruthModel()
    oracle.add_clip(video, prompt="p")
    same = CodecModel(oracle, codec.IdentityCodec()).text_to_video("p", 7, 16, 16)
    np.testing.assert_array_equal(same, video)  # padded to 9 frames for the codec and cut back
    blurred = CodecModel(oracle, codec.BlurCodec()).text_to_video("p", 7, 16, 16)
    assert blurred.shape == video.shape and np.abs(blurred.astype(int) - video).mean() > 10

    torch.manual_seed(0)
    AutoencoderKinema(**vae_config("tiny")).save_pretrained(tmp_path / "m" / "vae")
    out = tmp_path / "report"
    argv = [
        "eval",
        "adherence",
        "--model",
        f"codec:{tmp_path / 'm'}",
        "--n",
        "1",
        "--size",
        "32",
        "--frames",
        "5",
    ]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert set(json.loads((out / "adherence.json").read_text())["summary"]) == {
        f"codec:{tmp_path / 'm'}",
        "ground-truth",
    }
