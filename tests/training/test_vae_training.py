"""VAE training: reconstruction improves on held-out world clips, the GAN term trains and resumes, and the
export is a from_pretrained folder with latent normalisation measured on held-out clips."""

from __future__ import annotations

import json
import math

import torch

from kinema.models import AutoencoderKinema
from kinema.training import checkpoint as ckpt
from kinema.training.config import config_from_dict
from kinema.training.engine import Trainer
from kinema.training.logging import read_metrics
from kinema.training.train_vae import PatchDiscriminator3D, VAETask, psnr


def _cfg(run_dir, **sections):
    raw = {
        "kind": "vae",
        "train": {
            "steps": 12,
            "batch_size": 2,
            "run_dir": str(run_dir),
            "log_every": 1,
            "ckpt_every": 6,
            "eval_every": 6,
            "device": "cpu",
        },
        "optim": {"lr": 3e-3},
        "ema": {"decay": 0.5},
        "data": {
            "width": 16,
            "height": 16,
            "num_frames": 5,
            "heldout_clips": 4,
            "world": {"scenarios": ["uniform"]},
        },
        "vae": {"preset": "tiny"},
    }
    for k, v in sections.items():
        raw.setdefault(k, {}).update(v)
    return config_from_dict(raw)


def test_psnr_reference_values():
    x = torch.zeros(1, 3, 1, 4, 4)
    assert abs(psnr(x + 0.2, x) - 20.0) < 1e-5  # mse 0.04, peak-to-peak 2: 10 log10(4 / 0.04)
    assert psnr(x, x) > 100


def test_vae_psnr_rises_and_export_sets_latent_normalisation(tmp_path):
    cfg = _cfg(tmp_path / "run", train={"log_every": 4})  # eval steps (6, 12) are not all log steps
    task = VAETask(cfg)
    trainer = Trainer(cfg, task)
    start = task.evaluate()
    trainer.fit()
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows if "psnr_heldout" in r] == [8, 12]  # step 6's PSNR logged at 8
    assert rows[-1]["psnr_heldout"] > start + 1.0, (start, rows[-1]["psnr_heldout"])
    out = trainer.export()
    trainer.close()
    vae = AutoencoderKinema.from_pretrained(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isclose(vae.config.scaling_factor, 1.0 / metrics["latent_std"], rel_tol=1e-4)
    assert math.isclose(vae.config.shift_factor, metrics["latent_mean"], rel_tol=1e-4)
    with torch.no_grad():
        z = torch.cat([vae.normalize(vae.encode(c[None]).mode()) for c in task.heldout()])
    assert abs(float(z.mean())) < 1e-3 and abs(float(z.std()) - 1.0) < 1e-3


def test_adversarial_term_trains_and_its_state_resumes(tmp_path):
    cfg = _cfg(
        tmp_path / "run",
        train={"steps": 2, "ckpt_every": 2, "eval_every": 0},
        vae_loss={"adv_weight": 0.1, "disc_channels": 8},
    )
    task = VAETask(cfg)
    trainer = Trainer(cfg, task)
    disc_before = {k: v.clone() for k, v in task.disc_module.state_dict().items()}
    trainer.fit()
    rows = read_metrics(tmp_path / "run")
    assert all("d_loss" in r and "g_adv" in r for r in rows)
    moved = any(not torch.equal(disc_before[k], v) for k, v in task.disc_module.state_dict().items())
    assert moved
    saved = ckpt.load_object(ckpt.latest_checkpoint(tmp_path / "run") / "trainer.pt")["task"]
    for k, v in task.disc_module.state_dict().items():
        assert torch.equal(saved["disc"][k], v)
    trainer.close()
    # A run resumed from that checkpoint starts with the same critic.
    task2 = VAETask(cfg)
    Trainer(cfg, task2).close()
    for k, v in task.disc_module.state_dict().items():
        assert torch.equal(task2.disc_module.state_dict()[k], v)


def test_patch_discriminator_gives_a_grid_of_logits():
    d = PatchDiscriminator3D(3, 8)
    assert d(torch.randn(2, 3, 5, 16, 16)).shape == (2, 1, 2, 2, 2)


def test_foreground_weights_mark_objects_not_background():
    from kinema.training.train_vae import foreground_weights

    video = torch.ones(2, 3, 3, 8, 8)  # white frames
    video[0, :, 1, 2:4, 2:4] = torch.tensor([1.0, -1.0, -1.0])[:, None, None]  # a red square in one frame
    w = foreground_weights(video, 9.0)
    assert w.shape == (2, 1, 3, 8, 8)
    assert torch.all(w[1] == 1) and torch.all(w[0, :, 0] == 1)  # flat frames: no extra weight
    assert w[0, 0, 1].sum() == 60 * 1 + 4 * 10  # the 4 object pixels weigh 1 + 9


def test_init_from_a_model_folder_takes_its_vae(tmp_path):
    from kinema.models import vae_config

    torch.manual_seed(3)
    source = AutoencoderKinema(**vae_config("tiny"))
    source.save_pretrained(tmp_path / "model" / "vae")  # the layout of a model folder (vae/ + transformer/)
    cfg = _cfg(tmp_path / "run", train={"init_from": str(tmp_path / "model")})
    trainer = Trainer(cfg, VAETask(cfg))
    for name, param in trainer.model.state_dict().items():
        assert torch.equal(param, source.state_dict()[name]), name
    trainer.close()


def test_a_decoder_fine_tune_keeps_the_encoder_and_its_latent_normalisation(tmp_path):
    """`train.trainable: [decoder]` on a model folder's VAE (the v0.2 decoder fine-tune): the export's encoder,
    and so the latent space a DiT reads, is the source's, with the normalisation the recipe gives; the codec
    mix trains it (data.source: codec)."""
    from kinema.models import vae_config

    torch.manual_seed(4)
    source = AutoencoderKinema(**vae_config("tiny"))
    source.save_pretrained(tmp_path / "model" / "vae")
    cfg = _cfg(
        tmp_path / "run",
        train={"init_from": str(tmp_path / "model"), "trainable": ["decoder"], "steps": 6},
        data={"source": "codec", "world": {}},
        vae={"overrides": {"scaling_factor": 0.37, "shift_factor": 0.21}},
    )
    trainer = Trainer(cfg, VAETask(cfg))
    trainer.fit()
    out = AutoencoderKinema.from_pretrained(trainer.export())
    trainer.close()
    assert out.config.scaling_factor == 0.37 and out.config.shift_factor == 0.21
    weights, before = out.state_dict(), source.state_dict()
    assert all(torch.equal(weights[n], before[n]) for n in before if n.startswith("encoder."))
    assert any(not torch.equal(weights[n], before[n]) for n in before if n.startswith("decoder."))
