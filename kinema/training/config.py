"""Training configuration: every hyperparameter and its default, in one typed place.

A recipe is a YAML (or JSON) file in `configs/` whose keys mirror the dataclasses below, plus command-line
overrides such as `--set optim.lr=1e-4 train.steps=100`. An unknown key is an error that names the key and
the valid ones, so a typo never trains silently with a default. The resolved config is saved into every
checkpoint and into the exported model folder (`training_config.yaml`).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from kinema.errors import InvalidInputError


@dataclass
class TrainSection:
    """The loop: length, batch, precision, parallelism, how often to log / save / evaluate."""

    steps: int = 1000  # optimizer steps
    batch_size: int = 4  # per process and micro-step; global batch = batch_size * grad_accum * world_size
    grad_accum: int = 1
    seed: int = 0
    run_dir: str = "runs/default"
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    parallel: Literal["ddp", "fsdp"] = "ddp"  # multi-process wrapper under torchrun (FSDP2 = fully_shard)
    activation_checkpointing: bool = False
    log_every: int = 10
    ckpt_every: int = 200
    keep_last: int = 3  # checkpoints kept in run_dir/checkpoints
    eval_every: int = 0  # VAE: PSNR on held-out clips; 0 = only at the end
    sample_every: int = 0  # DiT: write a sample video through kinema.io; 0 = never
    sample_prompt: str = "a red ball moves to the right"
    resume: Literal["auto", "never"] = "auto"  # auto: continue from the latest checkpoint in run_dir
    # Start a new run from trained weights (fine-tuning, or a second stage with a new schedule or data):
    # a trainer checkpoint dir (its model.safetensors) or an exported model folder (its transformer/ for
    # DiT jobs, the folder itself for VAE jobs). Only the weights: step, optimizer and LR start fresh.
    # Ignored once run_dir holds a checkpoint (the run then resumes from that).
    init_from: str | None = None
    # Train only the parameters whose names start with one of these prefixes; the rest stay frozen. With
    # init_from, the weights may then lack exactly these (modules new to the trained model, e.g. the
    # trajectory adapter: `trainable: [trajectory_adapter, trajectory_inject]`). Empty = train everything.
    trainable: list[str] = field(default_factory=list)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # CPU threads per process; 0 = torch's default. On a shared CPU, 1 can be many times faster than
    # oversubscribed OpenMP threads (measured: tiny DiT step 0.05 s with 1 thread vs 2.4 s with 2).
    num_threads: int = 0


@dataclass
class OptimSection:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max global grad norm; 0 = no clipping
    schedule: Literal["cosine", "constant"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio


@dataclass
class EMASection:
    enabled: bool = True
    decay: float = 0.999
    # EMA warm-up (decay_t = min(decay, (1 + t) / (10 + t))) so early EMA weights are not stuck at init.
    warmup: bool = True


@dataclass
class DataSection:
    """What clips to train on. `world` renders physics clips on the fly; `folder` reads video files."""

    source: Literal["world", "folder", "codec"] = "world"
    width: int = 64
    height: int = 64
    num_frames: int = 17  # 1 + 4k
    fps: float = 10.0
    world: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments for WorldClipDataset
    codec: dict[str, Any] = field(default_factory=dict)  # source=codec (VAE only): CodecMixConfig options
    folder: str | None = None  # for source=folder: a folder of videos + captions (VideoFolderDataset)
    # DiT only: "none" encodes every batch with the frozen VAE / text encoder; "disk" stores each sample's
    # latents + text embedding on disk the first time it is drawn (reused across epochs and resumes). For
    # world data, "disk" trains on a fixed pool of `pool_size` clips.
    cache: Literal["none", "disk"] = "none"
    pool_size: int = 512
    cache_dir: str | None = None  # default: <run_dir>/cache
    heldout_clips: int = 8  # VAE: clips with a separate seed for PSNR
    num_workers: int = 0
    # World data in aspect buckets (e.g. ["1:1", "16:9", "9:16"]): each at about width x height pixels on the
    # model grid (`size_multiple` = VAE spatial compression x DiT patch), batches taking turns. Empty = one
    # bucket of width x height.
    aspect_ratios: list[str] = field(default_factory=list)
    size_multiple: int = 16


@dataclass
class VAESection:
    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # DiT training: a trained VAE folder (from `kinema train vae`); required


@dataclass
class TransformerSection:
    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextEncoderSection:
    name: str = "minilm"
    max_length: int = 32


@dataclass
class ConditioningSection:
    """Task mixing: per sample, which conditions the DiT sees. Task probabilities must sum to 1."""

    p_t2v: float = 0.4  # nothing given
    p_first_frame: float = 0.3  # image-to-video
    p_continuation: float = 0.2  # first k latent frames given (extend)
    p_keyframes: float = 0.1  # first + last latent frames given
    max_continuation_frames: int = 2  # k drawn from 1..min(this, t - 1)
    p_text_drop: float = 0.1  # caption replaced by the empty prompt (classifier-free guidance)
    p_camera: float = 0.5  # camera vector kept (else zeros)
    p_trajectory: float = 0.3  # trajectory map kept (else zeros)


@dataclass
class FlowSection:
    shift: float | None = None  # None: resolution_shift(number of latent tokens)
    logit_mean: float = 0.0
    logit_std: float = 1.0


@dataclass
class VAELossSection:
    l1_weight: float = 1.0
    # Squared error: on sparse scenes (small balls on a flat background) L1 alone pulls the decoder to the
    # per-pixel median, the background - measured: the kinema-world VAE drew empty white frames after 500
    # steps of L1 (held-out PSNR stuck at 14 dB). L2's gradient grows with the error, so objects come back.
    l2_weight: float = 0.0
    foreground_weight: float = 0.0  # extra loss weight on pixels unlike their frame's median (objects)
    kl_weight: float = 1e-6
    adv_weight: float = 0.0  # 0 = no discriminator
    adv_start_step: int = 0
    disc_lr: float = 1e-4
    disc_channels: int = 32


@dataclass
class ExportSection:
    dir: str | None = None  # default: <run_dir>/export
    max_shard_size: str = "10MB"  # safetensors shards stay small (device boxes return files < 16 MiB)
    use_ema: bool = True
    # Storage dtype of the exported DiT weights (DiT jobs; the VAE stays fp32). fp16/bf16 halve the folder;
    # loading casts them back to the pipeline's dtype (fp32 on a CPU).
    transformer_dtype: Literal["fp32", "fp16", "bf16"] = "fp32"
    # Pipeline defaults written into kinema.json
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    sampler: str = "euler"


@dataclass
class TrainingConfig:
    kind: Literal["vae", "dit"] = "dit"
    name: str = "kinema"
    train: TrainSection = field(default_factory=TrainSection)
    optim: OptimSection = field(default_factory=OptimSection)
    ema: EMASection = field(default_factory=EMASection)
    data: DataSection = field(default_factory=DataSection)
    vae: VAESection = field(default_factory=VAESection)
    transformer: TransformerSection = field(default_factory=TransformerSection)
    text_encoder: TextEncoderSection = field(default_factory=TextEncoderSection)
    conditioning: ConditioningSection = field(default_factory=ConditioningSection)
    flow: FlowSection = field(default_factory=FlowSection)
    vae_loss: VAELossSection = field(default_factory=VAELossSection)
    export: ExportSection = field(default_factory=ExportSection)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def validate(self) -> TrainingConfig:
        _validate(self)
        return self


# --------------------------------------------------------------------------------------------------------
# Loading: file + overrides -> plain dict -> typed dataclasses (strict)
# --------------------------------------------------------------------------------------------------------


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainingConfig:
    """Read a recipe file (YAML or JSON), apply `key.sub=value` overrides, and validate every key."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(
                f"config file {path} does not exist; pass a recipe from configs/, e.g. configs/tiny_dit.yaml"
            )
        text = path.read_text()
        try:
            loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"config file {path} is not valid YAML/JSON ({exc}); fix the syntax"
            ) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}"
            )
        raw = loaded
    for item in overrides or []:
        apply_override(raw, item)
    return config_from_dict(raw)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML (`1e-4`, `true`, `[1,2]`)."""
    if "=" not in item:
        raise InvalidInputError(f"override {item!r} must look like section.key=value, e.g. optim.lr=1e-4")
    key, value_text = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise InvalidInputError(f"override {item!r} has an empty key; write section.key=value")
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else None
    except yaml.YAMLError:
        value = value_text
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise InvalidInputError(f"override {item!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def config_from_dict(raw: dict[str, Any]) -> TrainingConfig:
    cfg = _build(TrainingConfig, raw, "")
    return cfg.validate()


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where or 'config'} must be a mapping of keys, got {raw!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        full = f"{where}.{unknown[0]}" if where else str(unknown[0])
        raise InvalidInputError(
            f"unknown config key {full!r}; valid keys{' in ' + where if where else ''}: {', '.join(names)}"
        )
    kwargs = {}
    for name in names:
        if name in raw:
            kwargs[name] = _coerce(hints[name], raw[name], f"{where}.{name}" if where else name)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except InvalidInputError as exc:
                errors.append(str(exc))
        raise InvalidInputError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise InvalidInputError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if tp is Any:
        return value
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise InvalidInputError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise InvalidInputError(f"{where} must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise InvalidInputError(f"{where} must have {len(args)} items, got {len(value)}")
            return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if tp is bool:
        if not isinstance(value, bool):
            raise InvalidInputError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise InvalidInputError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidInputError(f"{where} must be a string, got {value!r}")
        return str(value)
    raise InvalidInputError(f"{where}: unsupported config type {tp!r}")


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _validate(cfg: TrainingConfig) -> None:
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise InvalidInputError(msg)

    t, o, d, c = cfg.train, cfg.optim, cfg.data, cfg.conditioning
    need(t.steps >= 1, f"train.steps must be >= 1, got {t.steps}")
    need(t.batch_size >= 1, f"train.batch_size must be >= 1, got {t.batch_size}")
    need(t.grad_accum >= 1, f"train.grad_accum must be >= 1, got {t.grad_accum}")
    need(t.log_every >= 1, f"train.log_every must be >= 1, got {t.log_every}")
    need(t.ckpt_every >= 0, f"train.ckpt_every must be >= 0 (0 = only at the end), got {t.ckpt_every}")
    need(t.num_threads >= 0, f"train.num_threads must be >= 0 (0 = torch default), got {t.num_threads}")
    need(t.keep_last >= 1, f"train.keep_last must be >= 1, got {t.keep_last}")
    need(o.lr > 0, f"optim.lr must be > 0, got {o.lr}")
    need(o.grad_clip >= 0, f"optim.grad_clip must be >= 0 (0 = off), got {o.grad_clip}")
    need(0.0 <= o.min_lr_ratio <= 1.0, f"optim.min_lr_ratio must be in [0, 1], got {o.min_lr_ratio}")
    need(o.warmup_steps >= 0, f"optim.warmup_steps must be >= 0, got {o.warmup_steps}")
    need(0.0 <= cfg.ema.decay < 1.0, f"ema.decay must be in [0, 1), got {cfg.ema.decay}")
    need(
        d.width % 8 == 0 and d.height % 8 == 0,
        f"data.width and data.height must be multiples of 8, got {d.width}x{d.height}",
    )
    need(
        d.num_frames >= 1 and (d.num_frames - 1) % 4 == 0,
        f"data.num_frames must be 1 + 4k (1, 5, 9, 17, 33...), got {d.num_frames}",
    )
    need(d.pool_size >= 1, f"data.pool_size must be >= 1, got {d.pool_size}")
    if d.source == "folder":
        need(
            bool(d.folder),
            "data.source is 'folder' but data.folder is not set; set data.folder=/path/to/videos",
        )
    need(
        d.source != "codec" or cfg.kind == "vae",
        "data.source 'codec' (the codec mix) trains a VAE only; a DiT trains on 'world' or 'folder' data",
    )
    if cfg.kind == "dit":
        need(
            bool(cfg.vae.path),
            "DiT training needs a trained VAE: set vae.path to the folder written by `kinema train vae`",
        )
    probs = {
        "p_t2v": c.p_t2v,
        "p_first_frame": c.p_first_frame,
        "p_continuation": c.p_continuation,
        "p_keyframes": c.p_keyframes,
    }
    for name, p in {
        **probs,
        "p_text_drop": c.p_text_drop,
        "p_camera": c.p_camera,
        "p_trajectory": c.p_trajectory,
    }.items():
        need(0.0 <= p <= 1.0, f"conditioning.{name} must be a probability in [0, 1], got {p}")
    total = sum(probs.values())
    need(
        abs(total - 1.0) < 1e-6,
        f"conditioning task probabilities ({', '.join(probs)}) must sum to 1, got {total:g}",
    )
    need(
        c.max_continuation_frames >= 1,
        f"conditioning.max_continuation_frames must be >= 1, got {c.max_continuation_frames}",
    )
    need(cfg.vae_loss.adv_weight >= 0, f"vae_loss.adv_weight must be >= 0, got {cfg.vae_loss.adv_weight}")
