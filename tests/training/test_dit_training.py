"""DiT training on world clips with a frozen tiny VAE and the real MiniLM: loss falls, export loads,
task mixing draws what it says, the analytic FLOPs match a counted forward."""

from __future__ import annotations

import json

import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.io.video import read_video
from kinema.models import AutoencoderKinema, KinemaTransformer3DModel, transformer_config, vae_config
from kinema.training.conditioning import camera_per_latent_frame, sample_conditions
from kinema.training.config import ConditioningSection, config_from_dict
from kinema.training.engine import Trainer
from kinema.training.logging import dit_forward_flops, read_metrics
from kinema.training.streams import IterStream, LoaderStream, WorldItem, world_dataset
from kinema.training.train_dit import DiTTask


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vae")
    AutoencoderKinema(**vae_config("tiny")).save_pretrained(path)
    return path


def _cfg(run_dir, vae_dir, **sections):
    raw = {
        "kind": "dit",
        "train": {
            "steps": 30,
            "batch_size": 4,
            "run_dir": str(run_dir),
            "log_every": 1,
            "ckpt_every": 0,
            "device": "cpu",
        },
        "optim": {"lr": 3e-3, "warmup_steps": 3, "schedule": "constant"},
        "ema": {"decay": 0.9},
        "data": {
            "width": 16,
            "height": 16,
            "num_frames": 5,
            "cache": "disk",
            "pool_size": 4,
            "world": {"scenarios": ["uniform", "parabola"]},
        },
        "vae": {"path": str(vae_dir)},
        "transformer": {"preset": "tiny"},
        "text_encoder": {"max_length": 8},
        "flow": {"shift": 1.0},
    }
    for k, v in sections.items():
        raw.setdefault(k, {}).update(v)
    return config_from_dict(raw)


@torch.no_grad()
def _eval_loss(trainer: Trainer) -> float:
    """Mean loss over the whole pool under fixed generators (the same draws before and after training)."""
    task = trainer.task
    batch = task._cached_batch(list(range(4)), None)
    losses = [
        float(task.loss(trainer.model, batch, torch.Generator().manual_seed(s), 0)[0]) for s in range(8)
    ]
    return sum(losses) / len(losses)


def test_tiny_dit_loss_falls_on_world_clips_and_exports_a_model_folder(tmp_path, vae_dir):
    # The device box returns files < 16 MiB: small shards show that sharded exports work.
    export = {"max_shard_size": "200KB", "guide_trajectory": True, "trajectory_guidance_scale": 3.0}
    cfg = _cfg(tmp_path / "run", vae_dir, export=export)
    trainer = Trainer(cfg, DiTTask(cfg))
    trainer.stream.next_batch()  # fills the disk cache for the pool
    trainer.stream.load_state_dict({"epoch": 0, "cursor": 0})
    before = _eval_loss(trainer)
    trainer.fit()
    after = _eval_loss(trainer)
    assert after < 0.7 * before, (before, after)
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert all(r["mfu"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert len(list((tmp_path / "run" / "cache").glob("*/*.safetensors"))) == 4  # the pool, encoded once

    out = trainer.export()
    trainer.close()
    shards = sorted(p.stat().st_size for p in (out / "transformer").glob("*.safetensors"))
    assert len(shards) > 1 and shards[-1] < 400_000
    meta = json.loads((out / "kinema.json").read_text())
    assert (meta["width"], meta["height"], meta["num_frames"], meta["text_encoder"]) == (16, 16, 5, "minilm")
    assert meta["guide_trajectory"] is True and meta["trajectory_guidance_scale"] == 3.0  # the recipe's
    loaded = KinemaTransformer3DModel.from_pretrained(out / "transformer")
    ema = trainer.ema.full_state_dict()
    for name, param in loaded.state_dict().items():
        assert torch.equal(param, ema[name])  # the export holds the EMA weights
    assert AutoencoderKinema.from_pretrained(out / "vae").config.latent_channels == 4
    assert "kind: dit" in (out / "training_config.yaml").read_text()


def test_on_the_fly_world_clips_with_trajectories_and_camera(tmp_path, vae_dir):
    cfg = _cfg(
        tmp_path / "run",
        vae_dir,
        train={"steps": 2, "batch_size": 2, "sample_every": 2},
        data={"cache": "none"},
        conditioning={"p_camera": 1.0, "p_trajectory": 1.0},
        export={"num_inference_steps": 2},
    )
    task = DiTTask(cfg)
    trainer = Trainer(cfg, task)
    batch = trainer.stream.next_batch()
    enc = task.encode_batch(batch, torch.Generator().manual_seed(0))
    assert enc["latents"].shape == (2, 4, 2, 4, 4)
    assert enc["trajectory"].shape == (2, 3, 2, 4, 4)
    assert enc["trajectory"][:, 0].amax() > 0.5  # a blob where the ball is
    assert enc["camera"].shape == (2, 2, 6)
    assert enc["text"].shape == (2, 8, 384) and enc["text_mask"][:, 0].all()
    trainer.fit()
    assert trainer.step == 2 and trainer.stream.state_dict() == {"consumed": 6}
    # The periodic sample video went through the real t2v pipeline and kinema.io.
    frames, fps = read_video(tmp_path / "run" / "samples" / "step_00000002.mp4")
    assert frames.shape == (5, 16, 16, 3) and fps == 10


def test_world_stream_resumes_at_its_position_without_replaying():
    from kinema.world.dataset import WorldClipDataset, collate_clips

    def make(pos):
        return iter(
            WorldClipDataset(
                width=16, height=16, num_frames=5, scenarios=["uniform"], start=pos * 2, rank=1, world_size=2
            )
        )

    a = IterStream(make, 2, collate_clips)
    a.next_batch()
    second = a.next_batch()
    b = IterStream(make, 2, collate_clips)
    b.load_state_dict({"consumed": 2})
    assert torch.equal(b.next_batch()["video"], second["video"])
    # Worker processes (data.num_workers > 0) render the same clips in the same order, and resume too.
    world = WorldClipDataset(width=16, height=16, num_frames=5, scenarios=["uniform"])
    c = LoaderStream(WorldItem(world, 1, 2), 2, collate_clips, num_workers=2)
    c.load_state_dict({"consumed": 2})
    assert torch.equal(c.next_batch()["video"], second["video"])


def test_aspect_buckets_take_turns_and_resume(tmp_path, vae_dir):
    cfg = _cfg(
        tmp_path / "run",
        vae_dir,
        train={"steps": 3, "batch_size": 2},
        data={"width": 32, "height": 32, "cache": "none", "aspect_ratios": ["1:1", "16:9", "9:16"]},
    )
    task = DiTTask(cfg)
    trainer = Trainer(cfg, task)
    shapes = [tuple(trainer.stream.next_batch()["video"].shape[3:]) for _ in range(4)]
    # (H, W): the sizes `--aspect` asks for at the native area, on the 16-px grid; one shape per batch.
    assert shapes == [(32, 32), (32, 48), (48, 32), (32, 32)]
    state = trainer.stream.state_dict()
    assert state["turn"] == 4 and [s["consumed"] for s in state["streams"]] == [4, 2, 2]
    fifth = trainer.stream.next_batch()
    again = Trainer(cfg, DiTTask(cfg)).stream
    again.load_state_dict(state)
    assert torch.equal(again.next_batch()["video"], fifth["video"])  # resumes in the 16:9 bucket
    trainer.fit()  # the DiT trains on all three shapes in one run
    assert trainer.step == 3
    with pytest.raises(InvalidInputError, match="cache=none"):
        bad = _cfg(tmp_path / "bad", vae_dir, data={"aspect_ratios": ["1:1", "16:9"]})
        Trainer(bad, DiTTask(bad))


def test_general_scene_ranges_bound_size_and_speed():
    from kinema.world.dataset import WorldClipDataset

    ds = WorldClipDataset(
        scenarios=["general"], num_clips=24, general_size=(0.07, 0.15), general_speed=(0.1, 0.4)
    )
    objects = [o for item in ds for o in item["spec"]["objects"]]
    sizes = [o["size"] for o in objects]
    speeds = [(o["velocity"][0] ** 2 + o["velocity"][1] ** 2) ** 0.5 for o in objects]
    assert len(objects) > 24 and 0.7 <= min(sizes) and max(sizes) <= 1.5  # world height 10
    assert 1.0 - 1e-3 <= min(speeds) and max(speeds) <= 4.0 + 1e-3
    with pytest.raises(InvalidInputError, match="general_speed"):
        WorldClipDataset(general_speed=(0.5, 0.1))


def test_task_mixing_masks():
    latents = torch.randn(64, 4, 5, 2, 2)
    g = torch.Generator().manual_seed(0)
    cfg = ConditioningSection(
        p_t2v=0.25,
        p_first_frame=0.25,
        p_continuation=0.25,
        p_keyframes=0.25,
        max_continuation_frames=3,
        p_text_drop=0.5,
        p_camera=0.5,
        p_trajectory=0.5,
    )
    d = sample_conditions(latents, cfg, g)
    given = d.cond_mask[:, 0, :, 0, 0]  # (B, t)
    assert torch.equal(d.cond_mask.expand_as(latents) * latents, d.cond_latents)
    for task, row in zip(d.task.tolist(), given):
        if task == 0:
            assert row.sum() == 0
        elif task == 1:
            assert row.tolist() == [1, 0, 0, 0, 0]
        elif task == 2:
            k = int(row.sum())
            assert 1 <= k <= 3 and row[:k].all() and not row[k:].any()
        else:
            assert row.tolist() == [1, 0, 0, 0, 1]
    assert set(d.task.tolist()) == {0, 1, 2, 3}
    assert 10 < int(d.keep_text.sum()) < 54
    again = sample_conditions(latents, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(again.cond_mask, d.cond_mask) and torch.equal(again.keep_camera, d.keep_camera)
    only_t2v = ConditioningSection(
        p_t2v=1.0, p_first_frame=0.0, p_continuation=0.0, p_keyframes=0.0, p_text_drop=0.0
    )
    d = sample_conditions(latents, only_t2v, g)
    assert d.cond_mask.sum() == 0 and d.keep_text.all()


def test_camera_per_latent_frame_takes_frames_0_4_8():
    camera = torch.arange(9, dtype=torch.float32)[None, :, None].expand(1, 9, 6)
    assert camera_per_latent_frame(camera, 3, 4)[0, :, 0].tolist() == [0.0, 4.0, 8.0]


def test_analytic_flops_match_counted_forward():
    from torch.utils.flop_counter import FlopCounterMode

    model = KinemaTransformer3DModel(**transformer_config("tiny", hidden_size=64, depth=2, num_heads=2))
    x = torch.randn(1, 4, 3, 8, 8)
    text = torch.randn(1, 12, 384)
    with FlopCounterMode(display=False) as counter:
        model(x, torch.tensor([500.0]), text)
    counted = counter.get_total_flops()
    analytic, tokens = dit_forward_flops(dict(model.config), (4, 3, 8, 8), 12)
    assert tokens == 48
    # The counter sees the linear layers (addmm) but not CPU's fused attention kernel: add attention's
    # analytic share (self 4N^2 D + cross 4NLD per block) to the counted FLOPs.
    attention = 2 * (4 * 48 * 48 * 64 + 4 * 48 * 12 * 64)
    assert abs(analytic - (counted + attention)) / analytic < 0.02, (analytic, counted, attention)


def _tiny_cli_run(run_dir, vae_dir, *more: str) -> list[str]:
    """`kinema train dit` arguments for the tiny recipe at 16x16x5, checkpoints every 2 steps."""
    from pathlib import Path

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny_dit.yaml"
    return [
        *("train", "dit", "--config", str(recipe), "--run-dir", str(run_dir), "--set", f"vae.path={vae_dir}"),
        *("data.width=16", "data.height=16", "data.num_frames=5", "data.pool_size=8", "train.batch_size=2"),
        *("train.ckpt_every=2", "train.num_threads=1", *more),
    ]


def test_kinema_train_dit_cli_trains_resumes_and_exports(tmp_path, vae_dir, capsys):

    from kinema.cli import main
    from kinema.training import checkpoint as ckpt

    args = _tiny_cli_run(tmp_path / "run", vae_dir, "train.log_every=1")
    assert main([*args, "train.steps=2"]) == 0
    assert "model written to" in capsys.readouterr().out
    # Asking for more steps continues from the step-2 checkpoint instead of starting over.
    assert main([*args, "train.steps=4"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "step 3 " in out and "step 1 " not in out
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step_00000004"
    assert (tmp_path / "run" / "export" / "transformer" / "config.json").is_file()
    assert "steps: 4" in (tmp_path / "run" / "export" / "training_config.yaml").read_text()


def test_folder_dataset_with_disk_cache_trains_dit_and_vae(tmp_path, vae_dir):
    import numpy as np

    from kinema.io.video import write_video
    from kinema.training.train_vae import VAETask

    folder = tmp_path / "videos"
    folder.mkdir()
    lines = []
    for i in range(4):
        frames = (np.random.default_rng(i).random((9, 16, 16, 3)) * 255).astype(np.uint8)
        write_video(folder / f"c{i}.mp4", frames, fps=10)
        lines.append(json.dumps({"video": f"c{i}.mp4", "caption": f"clip number {i}"}))
    (folder / "captions.jsonl").write_text("\n".join(lines) + "\n")

    data = {"source": "folder", "folder": str(folder), "cache": "disk"}
    cfg = _cfg(tmp_path / "dit", vae_dir, train={"steps": 3, "batch_size": 2}, data=data)
    trainer = Trainer(cfg, DiTTask(cfg))
    trainer.fit()
    trainer.close()
    assert len(list((tmp_path / "dit" / "cache").glob("*/*.safetensors"))) == 4  # every clip encoded once
    assert trainer.stream.state_dict() == {"epoch": 1, "cursor": 1}

    vcfg = config_from_dict(
        {
            **cfg.to_dict(),
            "kind": "vae",
            "vae": {"preset": "tiny"},
            "train": {**cfg.to_dict()["train"], "run_dir": str(tmp_path / "vae"), "eval_every": 0},
        }
    )
    task = VAETask(vcfg)
    trainer = Trainer(vcfg, task)
    trainer.fit()
    trainer.close()
    assert trainer.step == 3


def test_activation_checkpointing_keeps_gradients():
    from kinema.training.engine import _enable_activation_checkpointing

    torch.manual_seed(0)
    model = KinemaTransformer3DModel(**transformer_config("tiny"))
    for p in model.parameters():  # adaLN-Zero starts gates at zero; wake them so every block matters
        p.data.add_(0.05 * torch.randn_like(p))
    x, text = torch.randn(2, 4, 2, 4, 4), torch.randn(2, 8, 384)

    def grads():
        model.zero_grad()
        model(x, torch.tensor([100.0, 900.0]), text).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = grads()
    _enable_activation_checkpointing(model)
    assert model.gradient_checkpointing
    checked = grads()
    assert plain.keys() == checked.keys() and len(plain) > 20
    for n in plain:
        torch.testing.assert_close(plain[n], checked[n], rtol=1e-5, atol=1e-6)


def test_init_from_an_export_or_a_checkpoint_starts_a_new_run_from_those_weights(tmp_path, vae_dir):
    from kinema.errors import InvalidInputError

    shards = {"max_shard_size": "200KB"}  # sharded exports load too
    first = _cfg(tmp_path / "a", vae_dir, train={"steps": 3, "ckpt_every": 3}, export=shards)
    trainer = Trainer(first, DiTTask(first))
    trainer.fit()
    export = trainer.export()
    trained = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    ema = trainer.ema.full_state_dict()
    trainer.close()
    checkpoint = next((tmp_path / "a" / "checkpoints").iterdir())

    for source, expected in ((export, ema), (checkpoint, trained)):
        cfg = _cfg(tmp_path / f"b_{source.name}", vae_dir, train={"steps": 3, "init_from": str(source)})
        second = Trainer(cfg, DiTTask(cfg))
        assert second.step == 0  # weights only: a new schedule from step 0
        for name, param in second.model.state_dict().items():
            assert torch.equal(param, expected[name]), name
        assert any(not torch.equal(trained[k], ema[k]) for k in trained)  # the two sources differ
        second.close()

    # A run that already has checkpoints resumes them; init_from does not overwrite its progress.
    again = _cfg(tmp_path / "a", vae_dir, train={"steps": 3, "ckpt_every": 3, "init_from": str(export)})
    resumed = Trainer(again, DiTTask(again))
    assert resumed.step == 3 and all(
        torch.equal(p, trained[k]) for k, p in resumed.model.state_dict().items()
    )
    resumed.close()

    with pytest.raises(InvalidInputError, match="no weights there"):
        cfg = _cfg(tmp_path / "c", vae_dir, train={"init_from": str(tmp_path / "nowhere")})
        Trainer(cfg, DiTTask(cfg))
    bigger = _cfg(
        tmp_path / "d",
        vae_dir,
        train={"init_from": str(export)},
        transformer={"overrides": {"hidden_size": 32, "num_heads": 2}},
    )
    with pytest.raises(InvalidInputError, match="do not fit this model"):
        Trainer(bigger, DiTTask(bigger))


def test_export_can_store_the_transformer_in_half_precision(tmp_path, vae_dir):
    from safetensors import safe_open

    cfg = _cfg(tmp_path / "run", vae_dir, export={"transformer_dtype": "fp16"})
    trainer = Trainer(cfg, DiTTask(cfg))
    out = trainer.export()
    ema = trainer.ema.full_state_dict()
    trainer.close()
    for shard in (out / "transformer").glob("*.safetensors"):
        with safe_open(str(shard), "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    with safe_open(str(next((out / "vae").glob("*.safetensors"))), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}  # the VAE stays fp32
    loaded = KinemaTransformer3DModel.from_pretrained(out / "transformer")
    for name, param in loaded.state_dict().items():
        assert param.dtype == torch.float32  # loading casts back for CPU inference
        assert torch.equal(param, ema[name].half().float()), name


def test_an_adapter_trains_on_a_frozen_model_from_its_export(tmp_path, vae_dir):
    first = _cfg(tmp_path / "base", vae_dir, train={"steps": 2})
    trainer = Trainer(first, DiTTask(first))
    trainer.fit()
    export = trainer.export()
    trainer.close()
    base = KinemaTransformer3DModel.from_pretrained(export / "transformer").state_dict()

    adapter = {"trainable": ["trajectory_adapter", "trajectory_inject"], "init_from": str(export)}
    with_adapter = {"overrides": {"trajectory_adapter_channels": 7}}
    always = {"p_trajectory": 1.0}
    cfg = _cfg(
        tmp_path / "adapter",
        vae_dir,
        train={"steps": 4, **adapter},
        transformer=with_adapter,
        conditioning=always,
    )
    trainer = Trainer(cfg, DiTTask(cfg))
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("trajectory_adapter", "trajectory_inject")) for n in trainable)
    trainer.fit()
    out = trainer.export()
    trainer.close()
    tuned = KinemaTransformer3DModel.from_pretrained(out / "transformer").state_dict()
    assert all(torch.equal(tuned[k], v) for k, v in base.items())  # every base weight exactly as it was
    assert any(tuned[k].any() for k in tuned if k.startswith("trajectory_inject"))  # the adapter learned

    # Only the named new modules may be missing from init_from's weights; a typo matches nothing.
    wrong = _cfg(
        tmp_path / "w", vae_dir, train={**adapter, "trainable": ["blocks"]}, transformer=with_adapter
    )
    with pytest.raises(InvalidInputError, match="do not fit this model"):
        Trainer(wrong, DiTTask(wrong))
    typo = _cfg(
        tmp_path / "t", vae_dir, train={"trainable": ["trajectory_adaptor"]}, transformer=with_adapter
    )
    with pytest.raises(InvalidInputError, match="matches no parameter"):
        Trainer(typo, DiTTask(typo))


def test_the_caption_memo_stays_bounded_and_never_drops_a_batchs_known_captions(
    tmp_path, vae_dir, monkeypatch
):
    import kinema.training.train_dit as train_dit

    monkeypatch.setattr(train_dit, "TEXT_MEMO_SIZE", 2)
    cfg = _cfg(tmp_path / "run", vae_dir)
    trainer = Trainer(cfg, DiTTask(cfg))
    task = trainer.task
    task._encode_text(["a red ball", "a blue ball", "a green ball"])  # the memo is now over its size
    # One known caption and one new one: clearing the memo between the lookup and the use lost the known one.
    emb, mask = task._encode_text(["a red ball", "a yellow ball"])
    want, want_mask = task.text_encoder.encode(["a red ball", "a yellow ball"], max_length=8)
    torch.testing.assert_close(emb, want.to(emb.device), rtol=1e-4, atol=1e-5)
    assert torch.equal(mask.cpu(), want_mask.bool().cpu()) and len(task._text_memo) <= 2 + 2
    trainer.close()


def test_export_step_writes_a_checkpoints_ema_weights_and_leaves_the_run_alone(tmp_path, vae_dir, capsys):

    from safetensors.torch import load_file

    from kinema.cli import main
    from kinema.training import checkpoint as ckpt

    run = tmp_path / "run"
    common = ["train", "dit", "--run-dir", str(run)]
    train = _tiny_cli_run(run, vae_dir, "train.keep_last=2", "train.steps=4", "export.transformer_dtype=fp32")
    assert main(train) == 0
    metrics = (run / "metrics.jsonl").read_text()
    final = load_file(next((run / "export" / "transformer").glob("*.safetensors")))
    capsys.readouterr()

    # No --config: the checkpoint's own config; the folder holds that step's EMA weights, fp32 as trained.
    assert main([*common, "--export-step", "2"]) == 0
    assert "(step 2)" in capsys.readouterr().out
    folder = run / "export_step2"
    got = load_file(next((folder / "transformer").glob("*.safetensors")))
    ema = load_file(str(ckpt.checkpoint_root(run) / "step_00000002" / "ema.safetensors"))
    assert got.keys() == final.keys()
    for name, value in got.items():
        assert torch.equal(value, ema[name]), name
    assert any(not torch.equal(got[n], final[n]) for n in got)  # step 2 is not step 4
    assert "steps: 4" in (folder / "training_config.yaml").read_text()
    # It loads as a model folder, and the run is untouched: its metrics, checkpoints and final export.
    from kinema.pipelines.model_folder import load_model_folder

    assert load_model_folder(folder)[3].width == 16
    assert (run / "metrics.jsonl").read_text() == metrics
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [2, 4]
    again = load_file(next((run / "export" / "transformer").glob("*.safetensors")))
    assert all(torch.equal(again[n], final[n]) for n in final)

    # "latest" and --out; a step the run does not keep is an error that names those it does.
    assert main([*common, "--export-step", "latest", "--out", str(tmp_path / "latest")]) == 0
    assert "(step 4)" in capsys.readouterr().out
    assert main([*common, "--export-step", "3"]) == 2
    assert "no checkpoint of step 3; it holds steps 2, 4" in capsys.readouterr().err
    assert main([*common, "--export-step", "last"]) == 2
    assert "step number or 'latest'" in capsys.readouterr().err


def test_text_drop_scenarios_keep_the_captions_of_the_other_scenarios(tmp_path, vae_dir):
    # The unconditional model learns the clips that lose their caption: with ["general"], the paper's
    # uniform-motion scenes always keep theirs, general scenes lose theirs at p_text_drop (here always).
    cfg = _cfg(
        tmp_path / "run",
        vae_dir,
        data={"pool_size": 8, "world": {"scenarios": ["uniform", "general"]}},
        conditioning={"p_text_drop": 1.0, "text_drop_scenarios": ["general"]},
        train={"batch_size": 8},
    )
    trainer = Trainer(cfg, DiTTask(cfg))
    task = trainer.task
    batch = trainer.stream.next_batch()  # the whole pool, in a seeded order
    seen = []
    handle = trainer.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(args[2].clone()), with_kwargs=True
    )
    task.loss(trainer.model, batch, torch.Generator().manual_seed(0), 0)
    handle.remove()
    text = seen[0]  # (B, L, D)
    empty = task.empty_text.expand_as(text)
    flags = batch["text_droppable"].tolist()
    assert 0 < sum(flags) < len(flags)  # both kinds in the batch
    for row, droppable, caption_text in zip(text, flags, batch["text"]):
        assert torch.equal(row, empty[0] if droppable else caption_text)
    pool = world_dataset(cfg, num_clips=8)
    scenarios = sorted(pool.scenario(i) for i in range(8))
    assert sorted("general" if f else "uniform" for f in flags) == scenarios
    assert [item["spec"]["scenario"] for item in pool.render(range(8))] == [pool.scenario(i) for i in range(8)]
    trainer.close()

    with pytest.raises(InvalidInputError, match="none of data.world.scenarios"):
        _cfg(tmp_path / "r2", vae_dir, conditioning={"text_drop_scenarios": ["general"]})
    with pytest.raises(InvalidInputError, match="non-empty subset"):
        _cfg(tmp_path / "r3", vae_dir, conditioning={"text_drop_scenarios": ["sky"]})


def test_an_adapter_widened_to_shapes_starts_as_its_source_and_learns_from_shape_channels(tmp_path, vae_dir):
    # kinema-world v1.1's recipe: the adapter's map gains the shape one-hot (7 -> 11 channels). Initialised
    # from a 7-channel model with `train.widen`, it computes exactly what that model did until it trains;
    # `p_shape_drop` zeroes the shape channels of some kept maps ("not given").
    general = {"pool_size": 8, "world": {"scenarios": ["uniform", "general"]}}
    source_cfg = _cfg(
        tmp_path / "seven", vae_dir, train={"steps": 2}, data=general,
        transformer={"overrides": {"trajectory_adapter_channels": 7}}, conditioning={"p_trajectory": 1.0},
    )
    trainer = Trainer(source_cfg, DiTTask(source_cfg))
    seven_key = trainer.task.cache.key
    trainer.fit()
    export = trainer.export()
    trainer.close()
    source = KinemaTransformer3DModel.from_pretrained(export / "transformer").eval()

    eleven = {"overrides": {"trajectory_adapter_channels": 11}}
    shapes = {"p_trajectory": 1.0, "p_shape_drop": 0.5}
    init = {"init_from": str(export), "widen": ["trajectory_adapter.0.weight"], "batch_size": 8}
    cfg = _cfg(tmp_path / "eleven", vae_dir, train=init, data=general, transformer=eleven, conditioning=shapes)
    trainer = Trainer(cfg, DiTTask(cfg))
    task, model = trainer.task, trainer.model
    assert task.map_channels == 11 and task.cache.key != seven_key  # the cache holds the map: another one
    weight = model.trajectory_adapter[0].weight  # (D, 11 * vol), channel-major
    old = source.trajectory_adapter[0].weight
    assert torch.equal(weight[:, : old.shape[1]], old) and not weight[:, old.shape[1] :].any()

    batch = trainer.stream.next_batch()  # the whole pool, maps rasterized with the shapes
    maps = batch["trajectory"]  # (8, 11, t, h, w)
    assert maps.shape[1] == 11 and maps[:, 7:].sum(1).amax() == 1.0  # one shape where an object's blob wins
    args = (batch["latents"], torch.full((8,), 500.0), batch["text"], batch["text_mask"])
    with torch.no_grad():  # the widened model is its source whatever the shape channels say
        same = model.eval()(*args, trajectory=maps)
        assert torch.allclose(same, source(*args, trajectory=maps[:, :7]), atol=1e-5)
    model.train()

    seen = []
    handle = model.register_forward_pre_hook(
        lambda module, a, kwargs: seen.append(kwargs["trajectory"].clone()), with_kwargs=True
    )
    task.loss(model, batch, torch.Generator().manual_seed(0), 0)
    handle.remove()
    kept = [torch.equal(row[7:], given[7:]) for row, given in zip(seen[0], maps)]
    dropped = [not row[7:].any() for row in seen[0]]
    assert all(torch.equal(row[:7], given[:7]) for row, given in zip(seen[0], maps))  # motion, colour, radius
    assert all(k != d for k, d in zip(kept, dropped)) and any(kept) and any(dropped)
    trainer.fit()  # 30 steps: the shape columns learn
    assert model.trajectory_adapter[0].weight[:, old.shape[1] :].abs().amax() > 1e-4
    trainer.close()

    with pytest.raises(InvalidInputError, match="do not fit this model"):  # without widen: refused
        no_widen = _cfg(
            tmp_path / "w", vae_dir, train={"init_from": str(export)}, data=general, transformer=eleven
        )
        Trainer(no_widen, DiTTask(no_widen))
