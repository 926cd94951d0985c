"""`kinema generate` end to end (in process, through kinema.cli.main): files written, read back."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from kinema.cli import main
from kinema.io import probe_video, read_aigc_label, read_video, write_video


@pytest.fixture()
def run_cli(tiny_model_dir, base_pipe, capsys):
    def run(*args: str) -> tuple[int, str]:
        code = main(["generate", *args, "--model", str(tiny_model_dir), "--quiet", "--steps", "1"])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def test_text_to_video_writes_a_labelled_mp4_and_thumbnail(run_cli, tmp_path):
    out, thumb = tmp_path / "ball.mp4", tmp_path / "ball.png"
    code, text = run_cli(
        "a red ball bounces", "--out", str(out), "--thumbnail", str(thumb), "--camera", "zoom=-4"
    )
    assert code == 0, text
    frames, fps = read_video(out)
    assert frames.shape == (9, 32, 32, 3) and fps == 8
    assert read_aigc_label(out).ContentProducer == "Kinema"
    assert Image.open(thumb).size == (32, 32) and read_aigc_label(thumb) is not None
    assert "wrote" in text


def test_text_to_image_by_file_suffix(run_cli, tmp_path):
    code, text = run_cli("a red ball", "--out", str(tmp_path / "ball.png"), "--aspect", "16:9")
    assert code == 0, text
    assert Image.open(tmp_path / "ball.png").size == (40, 24)


def test_image_keyframes_remix_and_extend(run_cli, tmp_path, make_frames):
    first, last = make_frames(2, 32, 32, seed=1)
    Image.fromarray(first).save(tmp_path / "first.png")
    Image.fromarray(last).save(tmp_path / "last.png")
    code, text = run_cli(
        "--image",
        str(tmp_path / "first.png"),
        "--last-image",
        str(tmp_path / "last.png"),
        "--out",
        str(tmp_path / "kf.mp4"),
    )
    assert code == 0, text
    assert probe_video(tmp_path / "kf.mp4").num_frames == 9

    paths = {"trajectories": [{"point": [8, 8], "path": [[1.0, 24, 8]]}]}
    (tmp_path / "drag.json").write_text(json.dumps(paths))
    code, text = run_cli(
        "it rolls",
        "--image",
        str(tmp_path / "first.png"),
        "--trajectory",
        str(tmp_path / "drag.json"),
        "--out",
        str(tmp_path / "i2v.mp4"),
    )
    assert code == 0, text

    write_video(tmp_path / "src.mp4", make_frames(9, 32, 32, seed=2), fps=8)
    code, text = run_cli(
        "in watercolour",
        "--video",
        str(tmp_path / "src.mp4"),
        "--strength",
        "0.5",
        "--out",
        str(tmp_path / "v2v.mp4"),
    )
    assert code == 0, text
    assert probe_video(tmp_path / "v2v.mp4").num_frames == 9

    code, text = run_cli(
        "--extend", str(tmp_path / "src.mp4"), "--frames", "8", "--out", str(tmp_path / "ext.mp4")
    )
    assert code == 0, text
    frames, _ = read_video(tmp_path / "ext.mp4")
    source, _ = read_video(tmp_path / "src.mp4")
    assert frames.shape == (17, 32, 32, 3)
    assert np.abs(frames[:9].astype(int) - source.astype(int)).mean() < 8  # the source (H.264 re-encoded)
    assert np.abs(frames[9:].astype(int) - source[:8].astype(int)).mean() > 8  # then new frames


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "x.mp4"], "needs a prompt"),
        (["a", "--image", "a.png", "--video", "b.mp4", "--out", "x.mp4"], "different modes"),
        (["a", "--last-image", "b.png", "--out", "x.mp4"], "need --image"),
        (["a", "--camera", "zoom=5", "--out", "x.png"], "image file"),
        (["a", "--out", "x.gif"], "use an .mp4"),
        (["a", "--camera", "zoom=50", "--out", "x.mp4"], "outside"),
        (["a", "--frames", "10", "--out", "x.mp4"], r"1 \+ 4k"),
        (["a", "--width", "30", "--height", "32", "--out", "x.mp4"], "multiples of 8"),
        (["a", "--guidance-interval", "0.9", "0.2", "--out", "x.mp4"], "guidance_interval.*low < high"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(run_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, text = run_cli(*args)
    assert code == 2
    assert re.search(message, text), text


def test_missing_default_model_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KINEMA_MODEL", raising=False)
    import kinema.pipelines.model_config as model_config

    # Pretend the package lives in an empty folder: no shipped model beside it.
    monkeypatch.setattr(model_config, "__file__", str(tmp_path / "kinema" / "pipelines" / "model_config.py"))
    assert main(["generate", "a ball", "--out", str(tmp_path / "a.mp4")]) == 2
    assert "--model PATH" in capsys.readouterr().err


def test_every_output_is_signed_by_default_and_no_sign_opts_out(run_cli, tmp_path, signing_data_dir):
    from kinema.io.provenance import CA_FILE, PROVENANCE_DIR, read_provenance

    out, thumb = tmp_path / "signed.mp4", tmp_path / "signed.png"
    code, text = run_cli("a red ball", "--out", str(out), "--thumbnail", str(thumb))
    assert code == 0, text
    anchor = signing_data_dir / PROVENANCE_DIR / CA_FILE  # the installation's key, made on first use
    video, still = read_provenance(out, [anchor]), read_provenance(thumb, [anchor])
    assert video.validation_state == "Trusted" and video.actions[-1]["action"] == "c2pa.created"
    assert still.validation_state == "Trusted" and [i.relationship for i in still.ingredients] == ["parentOf"]
    assert read_aigc_label(out).ContentProducer == "Kinema"

    plain = tmp_path / "plain.mp4"
    code, text = run_cli("a red ball", "--out", str(plain), "--no-sign")
    assert code == 0, text
    assert not read_provenance(plain).has_manifest and read_aigc_label(plain) is not None
    code, text = run_cli("a red ball", "--out", str(plain), "--no-sign", "--sign")
    assert code == 2 and "--no-sign" in text


def test_guidance_interval_flag_leaves_the_noisiest_steps_unguided(run_cli, tmp_path):
    import torch

    from kinema.models import KinemaTransformer3DModel

    def record(module, args):
        if isinstance(module, KinemaTransformer3DModel):
            seen.append(args[0].shape[0])

    for interval, want in ((("0", "0.5"), 1), (("0", "1"), 2)):
        seen: list[int] = []
        hook = torch.nn.modules.module.register_module_forward_pre_hook(record)
        try:
            code, text = run_cli(
                "a ball", "--out", str(tmp_path / "x.mp4"), "--guidance", "4", "--guidance-interval", *interval
            )
        finally:
            hook.remove()
        assert code == 0, text
        assert seen == [want]  # one step (run_cli's --steps 1) at sigma = 1: outside [0, 0.5], inside [0, 1]


def test_guide_trajectory_flag_takes_the_map_from_the_unguided_half(run_cli, tmp_path, monkeypatch):
    import torch

    from kinema.models import KinemaTransformer3DModel

    forward = KinemaTransformer3DModel.forward

    def recording(self, *args, **kwargs):
        seen.append(kwargs["trajectory"].clone())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(KinemaTransformer3DModel, "forward", recording)
    prompt = "a red ball moves to the right"
    for flag, dropped in (("--guide-trajectory", True), ("--no-guide-trajectory", False)):
        seen: list[torch.Tensor] = []
        code, text = run_cli(prompt, "--physics", "--out", str(tmp_path / "x.mp4"), "--guidance", "4", flag)
        assert code == 0, text
        (maps,) = seen  # one step: [prompt; negative] halves
        assert maps[0].abs().sum() > 0
        assert torch.equal(maps[1], torch.zeros_like(maps[0]) if dropped else maps[0])
