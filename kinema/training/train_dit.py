"""DiT training: a frozen VAE (trained first with `kinema train vae`) and a frozen text encoder turn clips
into latents and text embeddings; the DiT learns the flow-matching velocity under task mixing
(`kinema.training.conditioning`). Exports the model folder the pipelines load: kinema.json + vae/ +
transformer/ (EMA weights).

Data: `data.source=world` renders physics clips on the fly (encoded every batch, or — with `data.cache=disk`
— a fixed pool of `data.pool_size` clips encoded once and kept on disk); `data.source=folder` reads a
`VideoFolderDataset` in batches of one bucket shape (optionally cached on disk the same way).
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.errors import InvalidInputError, ModelNotFoundError
from kinema.pipelines.trajectories import MAP_CHANNELS_WITH_LOOKS, MAP_CHANNELS_WITH_SHAPE
from kinema.training.conditioning import camera_per_latent_frame, sample_conditions
from kinema.training.config import TrainingConfig
from kinema.training.latent_cache import LatentCache
from kinema.training.logging import dit_forward_flops
from kinema.training.streams import (
    BucketStream,
    IndexStream,
    world_dataset,
    world_stream,
)


def load_frozen_vae(path: str | Path, device: torch.device) -> nn.Module:
    from kinema.models import AutoencoderKinema

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"no trained VAE at {path} (config.json missing); train one with `kinema train vae --config "
            "configs/world_vae_small.yaml` and set vae.path to its export folder"
        )
    vae = AutoencoderKinema.from_pretrained(path, low_cpu_mem_usage=False)
    return vae.to(device).eval().requires_grad_(False)


TEXT_MEMO_SIZE = 20000  # distinct captions kept encoded (a few KB each)


class DiTTask:
    weights_subfolder = "transformer"  # where an exported model folder keeps this job's weights (init_from)

    def __init__(self, cfg: TrainingConfig):
        self.cfg = cfg
        self._text_memo: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache: LatentCache | None = None
        self.model: nn.Module

    # ---- setup ---------------------------------------------------------------------------------------
    def setup(self, trainer) -> None:
        from kinema.diffusion.flow_matching import resolution_shift
        from kinema.models import KinemaTransformer3DModel, load_text_encoder, transformer_config

        cfg, d = self.cfg, self.cfg.data
        self.device = trainer.device
        self.vae = load_frozen_vae(cfg.vae.path, self.device)
        self.text_encoder = load_text_encoder(cfg.text_encoder.name, device=self.device)
        self.latent_shape = self.vae.latent_shape(d.num_frames, d.height, d.width)  # (C, t, h, w)
        overrides = {
            "in_channels": self.latent_shape[0],
            "out_channels": self.latent_shape[0],
            "text_dim": self.text_encoder.dim,
            **cfg.transformer.overrides,
        }
        torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
        self.model = KinemaTransformer3DModel(**transformer_config(cfg.transformer.preset, **overrides))
        _, t, h, w = self.latent_shape
        self.num_tokens = self.model.num_tokens(t, h, w)
        self.map_channels = self.model.trajectory_map_channels
        self.shift = cfg.flow.shift if cfg.flow.shift is not None else resolution_shift(self.num_tokens)
        empty, empty_mask = self.text_encoder.encode([""], max_length=cfg.text_encoder.max_length)
        self.empty_text, self.empty_mask = (
            empty.to(self.device),
            empty_mask.to(self.device),
        )  # (1, L, D), (1, L)
        if d.cache == "disk":
            root = Path(d.cache_dir) if d.cache_dir else Path(cfg.train.run_dir) / "cache"
            vae_cfg = dict(self.vae.config)
            self.cache = LatentCache(
                root,
                {
                    "data": {
                        k: v
                        for k, v in cfg.to_dict()["data"].items()
                        if k not in ("num_workers", "cache_dir")
                    },
                    "seed": cfg.train.seed,
                    "vae": str(Path(cfg.vae.path).resolve()),
                    "vae_config": vae_cfg,
                    "vae_mtime": _weights_mtime(Path(cfg.vae.path)),
                    "text_encoder": cfg.text_encoder.name,
                    "max_length": cfg.text_encoder.max_length,
                    # The cache holds the rasterized map: a map with shape channels is another cache
                    # (the key of a 3- or 7-channel model's cache is what it always was).
                    **(
                        {"map_channels": self.map_channels}
                        if self.map_channels == MAP_CHANNELS_WITH_SHAPE
                        else {}
                    ),
                },
            )

    # ---- data ----------------------------------------------------------------------------------------
    def make_stream(self, trainer):
        cfg, d = self.cfg, self.cfg.data
        rank, world = trainer.info.rank, trainer.info.world_size
        bs = cfg.train.batch_size
        if d.source == "world":
            if self.cache is not None:
                if len(d.aspect_ratios) > 1:
                    raise InvalidInputError(
                        "data.cache=disk keeps one pool of one size; with several data.aspect_ratios use "
                        "data.cache=none (clips are drawn and encoded on the fly)"
                    )
                pool = world_dataset(cfg, num_clips=d.pool_size)

                def fetch_pool(idx: list[int]) -> dict[str, torch.Tensor]:
                    batch = self._cached_batch(idx, lambda i: pool.render(i))
                    return self._with_droppable(batch, [pool.scenario(i) for i in idx])

                return IndexStream(
                    d.pool_size,
                    bs,
                    fetch_pool,
                    rank,
                    world,
                    cfg.train.seed,
                )
            return world_stream(cfg, bs, rank, world)
        from kinema.data import VideoFolderDataset
        from kinema.data.buckets import BucketConfig

        ds = VideoFolderDataset(
            d.folder,
            config=BucketConfig(area=d.width * d.height, frame_buckets=(d.num_frames,), fps=d.fps),
            seed=cfg.train.seed,
        )

        def fetch(idx: list[int]):
            if self.cache is not None:
                return self._cached_batch(idx, lambda ii: [ds[i] for i in ii])
            items = [ds[i] for i in idx]
            return {
                "video": torch.stack([i["video"] for i in items]),
                "caption": [i["caption"] for i in items],
            }

        return BucketStream(ds, bs, fetch, rank, world, cfg.train.seed)

    # ---- encoding ------------------------------------------------------------------------------------
    def _encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        # Captions repeat a lot in world data; memoise (bounded) so MiniLM runs once per distinct caption.
        # Clear before looking up, never between the lookup and the use: clearing after it dropped the
        # batch's already-known captions (a KeyError ~5000 steps into a run on on-the-fly clips).
        if len(self._text_memo) > TEXT_MEMO_SIZE:
            self._text_memo.clear()
        missing = [c for c in dict.fromkeys(captions) if c not in self._text_memo]
        if missing:
            emb, mask = self.text_encoder.encode(missing, max_length=self.cfg.text_encoder.max_length)
            for c, e, m in zip(missing, emb, mask):
                self._text_memo[c] = (e.to(self.device), m.to(self.device))
        emb = torch.stack([self._text_memo[c][0] for c in captions])  # (B, L, D)
        mask = torch.stack([self._text_memo[c][1] for c in captions])  # (B, L)
        return emb, mask

    @torch.no_grad()
    def encode_batch(
        self, batch: dict[str, Any], generator: torch.Generator | None, sample: bool = True
    ) -> dict[str, torch.Tensor]:
        """Raw clips {video (B,3,T,H,W), caption, camera?, tracks?} -> model inputs (latents etc.)."""
        video = batch["video"].to(self.device)
        post = self.vae.encode(video)
        z = post.sample(generator) if sample else post.mode()
        latents = self.vae.normalize(z)  # (B, C, t, h, w)
        b, _, t, h, w = latents.shape
        text, text_mask = self._encode_text(list(batch["caption"]))
        tc = self.vae.config.temporal_compression
        if batch.get("camera") is not None:
            camera = camera_per_latent_frame(batch["camera"].to(self.device).float(), t, tc)  # (B, t, 6)
        else:
            camera = torch.zeros(b, t, 6, device=self.device)
        if batch.get("tracks") is not None:
            trajectory = _rasterize(
                batch["tracks"], video.shape[2], video.shape[3], video.shape[4], (t, h, w), self.map_channels
            ).to(self.device)
        else:
            trajectory = torch.zeros(b, self.map_channels, t, h, w, device=self.device)
        encoded = {
            "latents": latents,
            "text": text,
            "text_mask": text_mask,
            "camera": camera,
            "trajectory": trajectory,
        }
        if batch.get("spec") is not None:
            encoded = self._with_droppable(encoded, [spec["scenario"] for spec in batch["spec"]])
        return encoded

    def _with_droppable(self, batch: dict[str, torch.Tensor], scenarios: list[str]) -> dict[str, torch.Tensor]:
        """Mark which samples may lose their caption (`conditioning.text_drop_scenarios`; all when unset)."""
        drop_from = self.cfg.conditioning.text_drop_scenarios
        if drop_from is not None:
            flags = [scenario in drop_from for scenario in scenarios]
            batch["text_droppable"] = torch.tensor(flags, dtype=torch.bool, device=self.device)
        return batch

    def _cached_batch(self, indices: list[int], load_items) -> dict[str, torch.Tensor]:
        assert self.cache is not None
        found = {i: self.cache.get(i) for i in indices}
        todo = [i for i in indices if found[i] is None]
        if todo:
            from kinema.world.dataset import collate_clips

            items = load_items(todo)
            raw = (
                collate_clips(items)
                if "tracks" in items[0]
                else {
                    "video": torch.stack([i["video"] for i in items]),
                    "caption": [i["caption"] for i in items],
                }
            )
            enc = self.encode_batch(raw, None, sample=False)  # the posterior mode: deterministic cache
            for j, i in enumerate(todo):
                entry = {k: v[j] for k, v in enc.items()}
                entry["text"] = entry["text"].half()  # halves the cache; MiniLM outputs are O(1)
                self.cache.put(i, entry)
                found[i] = entry
        rows = [found[i] for i in indices]
        out = {k: torch.stack([r[k] for r in rows]).to(self.device) for k in rows[0]}
        out["text"] = out["text"].float()
        out["text_mask"] = out["text_mask"].bool()
        return out

    # ---- the loss ------------------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: dict[str, Any], generator: torch.Generator, step: int):
        from kinema.diffusion.flow_matching import flow_matching_loss

        if "latents" not in batch:
            batch = self.encode_batch(batch, generator)
        latents = batch["latents"]
        b = latents.shape[0]
        draw = sample_conditions(latents, self.cfg.conditioning, generator)
        keep = draw.keep_text  # (B,)
        if "text_droppable" in batch:
            keep = keep | ~batch["text_droppable"]
        text = torch.where(keep[:, None, None], batch["text"], self.empty_text.expand_as(batch["text"]))  # (B, L, D)
        text_mask = torch.where(keep[:, None], batch["text_mask"], self.empty_mask.expand(b, -1))
        camera = batch["camera"] * draw.keep_camera[:, None, None].to(latents.dtype)  # (B, t, 6)
        trajectory = batch["trajectory"] * draw.keep_trajectory[:, None, None, None, None].to(latents.dtype)
        if draw.keep_shape is not None and trajectory.shape[1] == MAP_CHANNELS_WITH_SHAPE:
            # trajectory is this step's own product above: zero the shape channels ("not given") in place
            keep_shape = draw.keep_shape[:, None, None, None, None].to(trajectory.dtype)  # (B, 1, 1, 1, 1)
            trajectory[:, MAP_CHANNELS_WITH_LOOKS:] *= keep_shape
        f = self.cfg.flow
        loss = flow_matching_loss(
            model,
            latents,
            text,
            encoder_attention_mask=text_mask,
            cond_latents=draw.cond_latents,
            cond_mask=draw.cond_mask,
            camera=camera,
            trajectory=trajectory,
            generator=generator,
            shift=self.shift,
            logit_mean=f.logit_mean,
            logit_std=f.logit_std,
        )
        return loss, {}

    def samples_in(self, batch: dict[str, Any]) -> int:
        return len(batch["latents"] if "latents" in batch else batch["video"])

    def flops_per_sample(self) -> float:
        flops, _ = dit_forward_flops(
            dict(self.model.config), self.latent_shape, self.cfg.text_encoder.max_length
        )
        return flops

    def tokens_per_sample(self) -> int:
        return self.num_tokens

    def after_step(self, trainer, step: int) -> dict[str, float]:
        every = self.cfg.train.sample_every
        if every and step % every == 0 and trainer.info.is_main and trainer.parallel != "fsdp":
            self._write_sample(trainer, step)
        return {}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # ---- samples and export --------------------------------------------------------------------------
    def _folder_config(self):
        from kinema.pipelines.model_folder import ModelFolderConfig

        cfg, d, e = self.cfg, self.cfg.data, self.cfg.export
        return ModelFolderConfig(
            name=cfg.name,
            width=d.width,
            height=d.height,
            num_frames=d.num_frames,
            max_frames=max(d.num_frames, 4 * (d.num_frames - 1) + 1),
            fps=d.fps,
            text_encoder=cfg.text_encoder.name,
            max_text_length=cfg.text_encoder.max_length,
            num_inference_steps=e.num_inference_steps,
            guidance_scale=e.guidance_scale,
            guidance_interval=e.guidance_interval,
            trajectory_guidance_interval=e.trajectory_guidance_interval,
            guide_trajectory=e.guide_trajectory,
            trajectory_guidance_scale=e.trajectory_guidance_scale,
            shift=float(self.shift),
            sampler=e.sampler,
        )

    def _transformer_with(self, weights: dict[str, torch.Tensor]) -> nn.Module:
        from kinema.models import KinemaTransformer3DModel

        model = KinemaTransformer3DModel(
            **{k: v for k, v in dict(self.model.config).items() if not k.startswith("_")}
        )
        model.load_state_dict(weights)
        return model.eval()

    def _write_sample(self, trainer, step: int) -> None:
        """A short sample video of the EMA model (fixed prompt, seed 0) through the real t2v pipeline."""
        from kinema.io.video import write_video
        from kinema.pipelines import load_pipeline

        weights = trainer.ema.full_state_dict() if trainer.ema is not None else trainer._model_state()
        transformer = self._transformer_with(weights).to(self.device)
        components = {"vae": self.vae, "transformer": transformer, "text_encoder": self.text_encoder}
        pipe = load_pipeline("t2v", {**components, "config": self._folder_config()})
        with torch.no_grad():
            result = pipe(self.cfg.train.sample_prompt, seed=0)
        out = Path(self.cfg.train.run_dir) / "samples"
        out.mkdir(parents=True, exist_ok=True)
        write_video(out / f"step_{step:08d}.mp4", result.frames[0], fps=result.fps)

    def save_model_folder(self, transformer: nn.Module, out: Path) -> Path:
        """kinema.json + vae/ + transformer/, written next to `out` and renamed into place."""
        out = Path(out)
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        shard = self.cfg.export.max_shard_size
        self.vae.save_pretrained(tmp / "vae", max_shard_size=shard)
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            self.cfg.export.transformer_dtype
        ]
        if dtype != torch.float32:
            transformer = copy.deepcopy(transformer).to(dtype)
        transformer.save_pretrained(tmp / "transformer", max_shard_size=shard)
        (tmp / "kinema.json").write_text(self._folder_config().to_json())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return out

    def export(self, trainer, weights: dict[str, torch.Tensor], out_dir: Path) -> None:
        self.save_model_folder(self._transformer_with(weights), out_dir)


def _rasterize(
    tracks: torch.Tensor,
    num_frames: int,
    height: int,
    width: int,
    latent_size: tuple[int, int, int],
    channels: int,
) -> torch.Tensor:
    """Ground-truth tracks (B, K, T, 8) -> trajectory map (B, channels, t, h, w), the same function the
    pipelines use for user paths (docs/CONTRACTS.md)."""
    from kinema.pipelines.trajectories import rasterize_trajectories

    return rasterize_trajectories(
        tracks.float(), num_frames, height, width, latent_size=latent_size, channels=channels
    )


def _weights_mtime(path: Path) -> float:
    files = list(path.glob("*.safetensors")) + list(path.glob("*.bin"))
    return max((f.stat().st_mtime for f in files), default=0.0)
