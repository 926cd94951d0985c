"""The training engine shared by VAE and DiT training: processes, wrapping, the step, checkpoints, resume.

One `Trainer` runs one `TrainTask` (the VAE or DiT job: its model, its data and its loss). The engine
owns everything that is the same for both:
- torch.distributed from torchrun's environment (RANK / WORLD_SIZE / LOCAL_RANK); plain `python` is a
  single process with no process group. DDP by default, FSDP2 (`fully_shard` per block, then the root).
- bf16 autocast on CUDA, fp32 on CPU; gradient accumulation (no gradient sync on all but the last
  micro-step); gradient clipping; AdamW; warm-up then cosine or constant LR; EMA.
- random draws of step s, micro-step m on rank r come from a generator seeded by (seed, r, s, m), so a
  resumed run draws exactly what the uninterrupted one drew.
- checkpoints every N steps, written atomically, the last K kept; auto-resume from the latest.
- SIGTERM / SIGINT: finish the current step, save a checkpoint, exit.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from kinema.errors import InvalidInputError
from kinema.training import checkpoint as ckpt
from kinema.training.config import TrainingConfig
from kinema.training.ema import EMA
from kinema.training.logging import MetricsLogger, measure_matmul_peak

MAX_BAD_STEPS = 20  # consecutive non-finite steps before training stops with an error

# --------------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------------


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # this module created the process group (and destroys it)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment, or run as one process."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise InvalidInputError("train.device is 'cuda' but no CUDA device is visible; set train.device=cpu")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    owns = False
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        owns = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank, world_size, local_rank, dev, owns)


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


# --------------------------------------------------------------------------------------------------------
# What a job provides
# --------------------------------------------------------------------------------------------------------


class DataStream(Protocol):
    def next_batch(self) -> Any: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class TrainTask(Protocol):
    """A training job: the engine calls these; `kinema.training.train_vae` / `train_dit` implement them."""

    model: nn.Module  # the trainable module (unwrapped)

    def setup(self, trainer: Trainer) -> None: ...  # after dist init / device choice, before wrapping
    def make_stream(self, trainer: Trainer) -> DataStream: ...
    def loss(
        self, model: nn.Module, batch: Any, generator: torch.Generator, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]: ...
    def samples_in(self, batch: Any) -> int: ...
    def flops_per_sample(self) -> float | None: ...  # analytic forward FLOPs of one sample (for MFU)
    def tokens_per_sample(self) -> int | None: ...
    def after_step(
        self, trainer: Trainer, step: int
    ) -> dict[str, float]: ...  # eval / samples; extra metrics
    def extra_state(self) -> dict[str, Any]: ...
    def load_extra_state(self, state: dict[str, Any]) -> None: ...
    def export(self, trainer: Trainer, weights: dict[str, torch.Tensor], out_dir: Path) -> None: ...


def load_initial_weights(
    model: nn.Module,
    source: str | Path,
    subfolder: str = "",
    new: Sequence[str] = (),
    widen: Sequence[str] = (),
) -> None:
    """Load trained weights into `model` for `train.init_from`.

    `source` is a trainer checkpoint (a folder with model.safetensors: its model weights, not the
    ema.safetensors beside them) or an exported model folder (its `subfolder`, e.g. transformer/, holds
    diffusers safetensors shards). Every key must match: a weight file for another architecture is an
    error that names the differing keys, not a silent partial load. Only keys under the `new` name
    prefixes (modules added to the trained model, which keep their fresh initialisation) may be missing.
    A linear weight named in `widen` may have more input columns here than in the file (a layer that now
    reads more channels, appended last): the file's columns are loaded and the new ones start at zero, so
    the widened model computes exactly what the trained one did until training moves them.
    """
    from safetensors.torch import load_file

    root = Path(source)
    if (root / "model.safetensors").is_file():
        files = [root / "model.safetensors"]
    else:
        folder = root / subfolder if subfolder and (root / subfolder).is_dir() else root
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise InvalidInputError(
            f"train.init_from={source}: no weights there; give a checkpoint folder (with model.safetensors) "
            f"or an exported model folder{f' (with {subfolder}/)' if subfolder else ''}"
        )
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith(tuple(new)))
    unexpected = sorted(set(state) - set(own))
    for k in set(own) & set(state) & set(widen):
        old, grown = state[k], own[k]
        if (
            old.ndim == 2
            and grown.ndim == 2
            and old.shape[0] == grown.shape[0]
            and old.shape[1] < grown.shape[1]
        ):
            state[k] = torch.cat([old, old.new_zeros(old.shape[0], grown.shape[1] - old.shape[1])], dim=1)
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise InvalidInputError(
            f"train.init_from={source}: the weights do not fit this model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}, other shapes {wrong[:3]}); use weights trained with the same "
            "transformer/vae settings"
        )
    model.load_state_dict(state, strict=False)


def freeze_except(model: nn.Module, prefixes: Sequence[str]) -> None:
    """Freeze every parameter whose name starts with none of `prefixes` (an error if that is all of them)."""
    trainable = [n for n, p in model.named_parameters() if n.startswith(tuple(prefixes))]
    if not trainable:
        raise InvalidInputError(
            f"train.trainable={list(prefixes)} matches no parameter of the model; give name prefixes such "
            f"as {sorted({n.split('.')[0] for n, _ in model.named_parameters()})[:6]}"
        )
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(tuple(prefixes)))


def step_seed(seed: int, rank: int, step: int, micro: int) -> int:
    """A distinct, reproducible seed per (run seed, rank, step, micro-step)."""
    return ((((seed * 1_000_003) + rank) * 1_000_033 + step) * 131 + micro) % (2**63 - 1)


def lr_factor(step: int, total: int, warmup: int, schedule: str, min_ratio: float) -> float:
    """Multiplier of the base LR at optimizer step `step` (0-based): linear warm-up, then cosine/constant."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


# --------------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------------


class Trainer:
    def __init__(
        self,
        cfg: TrainingConfig,
        task: TrainTask,
        dist_info: DistInfo | None = None,
        weights_from: Path | None = None,
    ):
        """`weights_from`: a checkpoint whose model and EMA weights are loaded for `export()` only — the run
        is not resumed, and its config, metrics and checkpoints are left as they are."""
        self.cfg = cfg
        self.task = task
        self.info = dist_info or init_distributed(cfg.train.device)
        self.device = self.info.device
        self.run_dir = Path(cfg.train.run_dir)
        self.step = 0
        self._stop_requested = False
        self._bad_steps = 0  # consecutive optimizer steps skipped for non-finite gradients
        use_bf16 = cfg.train.precision == "bf16" or (
            cfg.train.precision == "auto" and self.device.type == "cuda"
        )
        self.autocast_dtype: torch.dtype | None = torch.bfloat16 if use_bf16 else None
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        barrier(self.info)
        torch.manual_seed(cfg.train.seed + self.info.rank)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)

        task.setup(self)
        if cfg.train.init_from and ckpt.latest_checkpoint(self.run_dir) is None:
            load_initial_weights(
                task.model,
                cfg.train.init_from,
                getattr(task, "weights_subfolder", ""),
                cfg.train.trainable,
                cfg.train.widen,
            )
        if cfg.train.trainable:
            freeze_except(task.model, cfg.train.trainable)
        self.model = task.model.to(self.device)
        if cfg.train.activation_checkpointing:
            _enable_activation_checkpointing(self.model)
        self.wrapped = self._wrap(self.model)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise InvalidInputError("the model has no trainable parameters")
        o = cfg.optim
        self.optimizer = torch.optim.AdamW(
            params, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: lr_factor(s, cfg.train.steps, o.warmup_steps, o.schedule, o.min_lr_ratio),
        )
        self.ema = EMA(self.model, cfg.ema.decay, cfg.ema.warmup) if cfg.ema.enabled else None
        self.stream = task.make_stream(self)
        if weights_from is not None:
            self.load_weights(weights_from)
            self.logger = MetricsLogger(self.run_dir, enabled=False)
            return
        resumed_from = self._maybe_resume()
        self.logger = MetricsLogger(self.run_dir, enabled=self.info.is_main, resume_step=self.step)
        if resumed_from is not None:
            self.logger.info(f"resumed from {resumed_from} at step {self.step}")
        if self.info.is_main:
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())

    # ---- wrapping ------------------------------------------------------------------------------------
    @property
    def parallel(self) -> str:
        return self.cfg.train.parallel if self.info.distributed else "none"

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.parallel == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            return DistributedDataParallel(model, device_ids=ids)
        if self.parallel == "fsdp":
            from torch.distributed.fsdp import fully_shard

            # Shard each transformer/decoder block separately (so only one block is gathered at a time),
            # then the root for the remaining parameters.
            for block in _shardable_blocks(model):
                fully_shard(block)
            fully_shard(model)
            return model
        return model

    def wrap_aux(self, module: nn.Module) -> nn.Module:
        """Wrap an extra trainable module of the task (the VAE's discriminator) like the main one (DDP)."""
        module = module.to(self.device)
        if self.info.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            return DistributedDataParallel(module, device_ids=ids)
        return module

    @contextlib.contextmanager
    def _grad_sync(self, enabled: bool):
        if self.parallel == "ddp" and not enabled:
            with self.wrapped.no_sync():
                yield
        elif self.parallel == "fsdp":
            self.wrapped.set_requires_gradient_sync(enabled)
            yield
        else:
            yield

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def generator(self, step: int, micro: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed(step_seed(self.cfg.train.seed, self.info.rank, step, micro))
        return g

    # ---- the loop ------------------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        """Train to `train.steps`, checkpointing and logging on the way; returns the last logged metrics."""
        cfg = self.cfg.train
        flops = self.task.flops_per_sample()
        tokens = self.task.tokens_per_sample()
        peak = None
        if flops and self.info.is_main:
            peak = measure_matmul_peak(self.device, self.autocast_dtype or torch.float32)
            self.logger.info(
                f"measured matmul peak {peak / 1e9:.1f} GFLOP/s per process ({self.device.type})"
            )
        old_handlers = self._install_signal_handlers()
        last: dict[str, float] = {}
        window_loss, window_n, window_samples = 0.0, 0, 0
        pending: dict[str, float] = {}
        hook_time = 0.0
        window_t0 = time.perf_counter()
        self.model.train()
        try:
            while self.step < cfg.steps:
                step = self.step
                loss_sum, extra = 0.0, {}
                samples = 0
                for micro in range(cfg.grad_accum):
                    batch = self.stream.next_batch()
                    samples += self.task.samples_in(batch)
                    with self._grad_sync(micro == cfg.grad_accum - 1):
                        with self.autocast():
                            loss, metrics = self.task.loss(
                                self.wrapped, batch, self.generator(step, micro), step
                            )
                        (loss / cfg.grad_accum).backward()
                    loss_sum += float(loss.detach())
                    for k, v in metrics.items():
                        extra[k] = extra.get(k, 0.0) + float(v) / cfg.grad_accum
                # The global grad norm (all-reduced grads under DDP / FSDP, so every rank sees the same
                # value) doubles as the NaN guard: a non-finite step is skipped on all ranks together.
                clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else float("inf")
                gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
                gnorm = float(gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm)
                extra["grad_norm"] = gnorm
                lr = self.optimizer.param_groups[0]["lr"]
                if not math.isfinite(gnorm):
                    self.optimizer.zero_grad(set_to_none=True)
                    self._bad_steps += 1
                    self.logger.info(f"step {step + 1}: non-finite gradients, optimizer step skipped")
                    if self._bad_steps >= MAX_BAD_STEPS:
                        raise FloatingPointError(
                            f"{MAX_BAD_STEPS} optimizer steps in a row had non-finite gradients; lower optim.lr "
                            "or set train.precision=fp32, then rerun (training resumes from the last checkpoint)"
                        )
                else:
                    self._bad_steps = 0
                    self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.ema is not None and self._bad_steps == 0:
                    self.ema.update(self.model)
                self.step = step + 1
                window_loss += loss_sum / cfg.grad_accum
                window_n += 1
                window_samples += samples
                # Evaluation / sample videos: their metrics wait for the next logged row, their time is not
                # counted in the throughput.
                t_hook = time.perf_counter()
                pending.update(self.task.after_step(self, self.step) or {})
                hook_time += time.perf_counter() - t_hook

                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    elapsed = time.perf_counter() - window_t0 - hook_time
                    mean_loss = self._all_mean(window_loss / window_n)
                    global_samples = window_samples * self.info.world_size
                    row = {"loss": mean_loss, "lr": lr, **extra, **pending}
                    pending, hook_time = {}, 0.0
                    row["samples_per_s"] = global_samples / max(elapsed, 1e-9)
                    if tokens:
                        row["tokens_per_s"] = row["samples_per_s"] * tokens
                    if flops and peak:
                        # 3x forward for forward + backward; peak is per process, so scale by world size.
                        row["mfu"] = 3.0 * flops * row["samples_per_s"] / (peak * self.info.world_size)
                    self.logger.log(self.step, row)
                    last = row
                    window_loss, window_n, window_samples = 0.0, 0, 0
                    window_t0 = time.perf_counter()

                stop = self._agree_stop()
                if (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or stop or self.step == cfg.steps:
                    self.save_checkpoint()
                if stop:
                    self.logger.info(
                        f"stopping at step {self.step} on request; checkpoint saved, rerun to resume"
                    )
                    return last
        finally:
            self._restore_signal_handlers(old_handlers)
        return last

    def _all_mean(self, value: float) -> float:
        if not self.info.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.info.world_size

    # ---- signals -------------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, Any]:
        old = {}

        def handler(signum, frame):
            self._stop_requested = True

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                old[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            return {}
        return old

    def _restore_signal_handlers(self, old: dict[int, Any]) -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    def _agree_stop(self) -> bool:
        if not self.info.distributed:
            return self._stop_requested
        flag = torch.tensor([1.0 if self._stop_requested else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    # ---- checkpoints ---------------------------------------------------------------------------------
    def _model_state(self) -> dict[str, torch.Tensor]:
        if self.parallel == "fsdp":
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return get_model_state_dict(self.model, options=opts)
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def _optim_state(self) -> dict[str, Any]:
        if self.parallel == "fsdp":
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return get_optimizer_state_dict(self.model, self.optimizer, options=opts)
        return self.optimizer.state_dict()

    def save_checkpoint(self) -> Path | None:
        # Collective parts first (FSDP gathers), then rank 0 writes; each rank adds its RNG state.
        model_sd = self._model_state()
        optim_sd = self._optim_state()
        ema_sd = self.ema.full_state_dict() if self.ema is not None else None
        tmp = ckpt.checkpoint_root(self.run_dir) / f".tmp_{ckpt.step_dir_name(self.step)}"
        if self.info.is_main:
            tmp = ckpt.begin_checkpoint(self.run_dir, self.step)
            ckpt.save_tensors(model_sd, tmp / "model.safetensors")
            if ema_sd is not None:
                ckpt.save_tensors(ema_sd, tmp / "ema.safetensors")
            ckpt.save_object(optim_sd, tmp / "optimizer.pt")
            ckpt.save_object(
                {
                    "step": self.step,
                    "scheduler": self.scheduler.state_dict(),
                    "data": self.stream.state_dict(),
                    "task": self.task.extra_state(),
                    "ema_updates": self.ema.num_updates if self.ema is not None else 0,
                    "world_size": self.info.world_size,
                },
                tmp / "trainer.pt",
            )
            (tmp / "config.yaml").write_text(self.cfg.to_yaml())
        barrier(self.info)
        ckpt.save_object(ckpt.rng_state(), tmp / f"rng_rank{self.info.rank}.pt")
        barrier(self.info)
        final = None
        if self.info.is_main:
            final = ckpt.commit_checkpoint(tmp, self.step, self.cfg.train.keep_last)
        barrier(self.info)
        return final

    def _maybe_resume(self) -> Path | None:
        path = ckpt.latest_checkpoint(self.run_dir)
        if path is None:
            return None
        if self.cfg.train.resume == "never":
            # A fresh run among an old run's checkpoints would be pruned by them and later "resume" them.
            raise InvalidInputError(
                f"{self.run_dir} already holds checkpoints (latest {path.name}) and resume is off; pick a new "
                "train.run_dir (--run-dir) or delete the old checkpoints"
            )
        self.load_checkpoint(path)
        return path

    def load_weights(self, path: Path, trainer_state: dict[str, Any] | None = None) -> None:
        """The checkpoint's model and EMA weights and its step (any number of processes may have written
        it: the weights are stored whole); `trainer_state`: its trainer.pt when already read."""
        if trainer_state is None:
            trainer_state = ckpt.load_object(path / "trainer.pt")
        model_sd = ckpt.load_tensors(path / "model.safetensors")
        if self.parallel == "fsdp":
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            set_model_state_dict(self.model, model_sd, options=StateDictOptions(full_state_dict=True))
        else:
            self.model.load_state_dict(model_sd)
        if self.ema is not None and (path / "ema.safetensors").exists():
            self.ema.load_full_state_dict(
                ckpt.load_tensors(path / "ema.safetensors"), trainer_state["ema_updates"]
            )
        self.step = int(trainer_state["step"])

    def load_checkpoint(self, path: Path) -> None:
        trainer_state = ckpt.load_object(path / "trainer.pt")
        if trainer_state.get("world_size", 1) != self.info.world_size:
            # The data position is per global batch; a different world size would replay other samples.
            raise InvalidInputError(
                f"checkpoint {path} was written by {trainer_state.get('world_size')} processes, this run has "
                f"{self.info.world_size}; resume with the same number of processes or start a new run_dir"
            )
        self.load_weights(path, trainer_state)
        optim_sd = ckpt.load_object(path / "optimizer.pt")
        if self.parallel == "fsdp":
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True)
            set_optimizer_state_dict(self.model, self.optimizer, optim_sd, options=opts)
        else:
            self.optimizer.load_state_dict(optim_sd)
        self.scheduler.load_state_dict(trainer_state["scheduler"])
        self.stream.load_state_dict(trainer_state["data"])
        self.task.load_extra_state(trainer_state.get("task", {}))
        rng_path = path / f"rng_rank{self.info.rank}.pt"
        if rng_path.exists():
            ckpt.set_rng_state(ckpt.load_object(rng_path))

    # ---- export --------------------------------------------------------------------------------------
    def export(self, out_dir: str | Path | None = None) -> Path:
        """Write the `from_pretrained` folder (EMA weights unless export.use_ema is false)."""
        out = Path(out_dir or self.cfg.export.dir or (self.run_dir / "export"))
        if self.ema is not None and self.cfg.export.use_ema:
            weights = self.ema.full_state_dict()
            # Buffers and frozen parameters (train.trainable) are not averaged: they come from the live model.
            for k, v in self._model_state().items():
                weights.setdefault(k, v)
        else:
            weights = self._model_state()
        if self.info.is_main:
            self.task.export(self, weights, out)
            (out / "training_config.yaml").write_text(self.cfg.to_yaml())
            self.logger.info(f"exported to {out}")
        barrier(self.info)
        return out

    def close(self) -> None:
        self.logger.close()
        if self.info.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _shardable_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks of a model: children of its ModuleLists (transformer blocks, VAE stages)."""
    blocks = []
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) >= 2:
            blocks.extend(m for m in module if any(True for _ in m.parameters()))
            if blocks:
                return blocks
    return blocks


def _enable_activation_checkpointing(model: nn.Module) -> None:
    # diffusers models recompute their blocks' activations in backward with this switch; the parameter
    # names stay as they are, so checkpoints and exports are unaffected.
    if getattr(model, "_supports_gradient_checkpointing", False) and hasattr(
        model, "enable_gradient_checkpointing"
    ):
        model.enable_gradient_checkpointing()
        return
    raise InvalidInputError(
        f"{type(model).__name__} does not support activation checkpointing; set train.activation_checkpointing=false"
    )
