"""Training configuration: every hyperparameter and its default, in one typed place.

A recipe is a YAML (or JSON) file in `configs/` whose keys mirror the pydantic models below, plus command-line
overrides such as `--set optim.lr=1e-4 train.steps=100`. An unknown key is an error that names the key and
the valid ones, so a typo never trains silently with a default. The resolved config is saved into every
checkpoint and into the exported model folder (`training_config.yaml`).

The sections are frozen: a config is read once, checked once, and saved as it was trained; a test or a
script that wants another value builds another config (`config_from_dict`, or `model_copy(update=...)`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from kinema.errors import InvalidInputError


def _whole_number(value: Any) -> Any:
    # `steps: 1.0e+4` is YAML's float for a whole number: read it as the integer it is.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _not_a_bool(value: Any) -> Any:
    # pydantic's lax mode reads `true` as 1.0; in a recipe that is a mistake, not a learning rate.
    if isinstance(value, bool):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return value


# The scalars a recipe may hold. Lax where YAML needs it (PyYAML reads `1e-4` as a string, so a number may be
# a numeric string), strict elsewhere: `true` is no integer, `"yes"` no boolean, `"5"` no step count.
Int = Annotated[int, BeforeValidator(_whole_number), Strict()]
Float = Annotated[float, BeforeValidator(_not_a_bool)]
Probability = Annotated[Float, Field(ge=0, le=1)]


class _Section(BaseModel):
    # coerce_numbers_to_str: `sampler: 1` or `max_shard_size: 10` are strings in a recipe, as they always were.
    # ser_json_inf_nan: an `inf` survives the saved YAML as .inf, not as null.
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, ser_json_inf_nan="constants"
    )


class TrainSection(_Section):
    """The loop: length, batch, precision, parallelism, how often to log / save / evaluate."""

    steps: Int = Field(1000, ge=1)  # optimizer steps
    # per process and micro-step; global batch = batch_size * grad_accum * world_size
    batch_size: Int = Field(4, ge=1)
    grad_accum: Int = Field(1, ge=1)
    seed: Int = 0
    run_dir: str = "runs/default"
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    parallel: Literal["ddp", "fsdp"] = "ddp"  # multi-process wrapper under torchrun (FSDP2 = fully_shard)
    activation_checkpointing: StrictBool = False
    log_every: Int = Field(10, ge=1)
    ckpt_every: Int = Field(200, ge=0)  # 0 = only at the end
    keep_last: Int = Field(3, ge=1)  # checkpoints kept in run_dir/checkpoints
    eval_every: Int = 0  # VAE: PSNR on held-out clips; 0 = only at the end
    sample_every: Int = 0  # DiT: write a sample video through kinema.io; 0 = never
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
    trainable: list[str] = Field(default_factory=list)
    # With init_from: linear weights (full names) that read more inputs than the weights there, e.g. the
    # adapter's first layer when the trajectory map gains channels (`trajectory_adapter.0.weight`). The old
    # columns are loaded, the new ones start at zero: the model starts as the one it was initialised from.
    widen: list[str] = Field(default_factory=list)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # CPU threads per process; 0 = torch's default. On a shared CPU, 1 can be many times faster than
    # oversubscribed OpenMP threads (measured: tiny DiT step 0.05 s with 1 thread vs 2.4 s with 2).
    num_threads: Int = Field(0, ge=0)


class OptimSection(_Section):
    lr: Float = Field(1e-4, gt=0)
    betas: Annotated[tuple[Float, ...], Field(min_length=2, max_length=2)] = (0.9, 0.999)  # (beta1, beta2)
    eps: Float = 1e-8
    weight_decay: Float = 0.0
    grad_clip: Float = Field(1.0, ge=0)  # max global grad norm; 0 = no clipping
    schedule: Literal["cosine", "constant"] = "constant"
    warmup_steps: Int = Field(0, ge=0)
    min_lr_ratio: Probability = 0.1  # cosine decays to lr * min_lr_ratio


class EMASection(_Section):
    enabled: StrictBool = True
    decay: Float = Field(0.999, ge=0, lt=1)
    # EMA warm-up (decay_t = min(decay, (1 + t) / (10 + t))) so early EMA weights are not stuck at init.
    warmup: StrictBool = True


class DataSection(_Section):
    """What clips to train on. `world` renders physics clips on the fly; `folder` reads video files."""

    source: Literal["world", "folder", "codec"] = "world"
    width: Int = 64
    height: Int = 64
    num_frames: Int = 17  # 1 + 4k
    fps: Float = 10.0
    world: dict[str, Any] = Field(default_factory=dict)  # extra keyword arguments for WorldClipDataset
    codec: dict[str, Any] = Field(default_factory=dict)  # source=codec (VAE only): CodecMixConfig options
    folder: str | None = None  # for source=folder: a folder of videos + captions (VideoFolderDataset)
    # DiT only: "none" encodes every batch with the frozen VAE / text encoder; "disk" stores each sample's
    # latents + text embedding on disk the first time it is drawn (reused across epochs and resumes). For
    # world data, "disk" trains on a fixed pool of `pool_size` clips.
    cache: Literal["none", "disk"] = "none"
    pool_size: Int = Field(512, ge=1)
    cache_dir: str | None = None  # default: <run_dir>/cache
    heldout_clips: Int = 8  # VAE: clips with a separate seed for PSNR
    num_workers: Int = 0
    # World data in aspect buckets (e.g. ["1:1", "16:9", "9:16"]): each at about width x height pixels on the
    # model grid (`size_multiple` = VAE spatial compression x DiT patch), batches taking turns. Empty = one
    # bucket of width x height.
    aspect_ratios: list[str] = Field(default_factory=list)
    size_multiple: Int = 16

    @field_validator("num_frames")
    @classmethod
    def _one_plus_4k(cls, n: int) -> int:
        if n < 1 or (n - 1) % 4:
            raise ValueError(f"data.num_frames must be 1 + 4k (1, 5, 9, 17, 33...), got {n}")
        return n

    @model_validator(mode="after")
    def _check(self) -> DataSection:
        if self.width % 8 or self.height % 8:
            raise ValueError(
                f"data.width and data.height must be multiples of 8, got {self.width}x{self.height}"
            )
        if self.source == "folder" and not self.folder:
            raise ValueError(
                "data.source is 'folder' but data.folder is not set; set data.folder=/path/to/videos"
            )
        return self


class VAESection(_Section):
    preset: str = "tiny"
    overrides: dict[str, Any] = Field(default_factory=dict)
    path: str | None = None  # DiT training: a trained VAE folder (from `kinema train vae`); required


class TransformerSection(_Section):
    preset: str = "tiny"
    overrides: dict[str, Any] = Field(default_factory=dict)


class TextEncoderSection(_Section):
    name: str = "minilm"
    max_length: Int = 32


class ConditioningSection(_Section):
    """Task mixing: per sample, which conditions the DiT sees. Task probabilities must sum to 1."""

    p_t2v: Probability = 0.4  # nothing given
    p_first_frame: Probability = 0.3  # image-to-video
    p_continuation: Probability = 0.2  # first k latent frames given (extend)
    p_keyframes: Probability = 0.1  # first + last latent frames given
    max_continuation_frames: Int = Field(2, ge=1)  # k drawn from 1..min(this, t - 1)
    p_text_drop: Probability = 0.1  # caption replaced by the empty prompt (classifier-free guidance)
    p_camera: Probability = 0.5  # camera vector kept (else zeros)
    p_trajectory: Probability = 0.3  # trajectory map kept (else zeros)
    # A kept map with shape channels (an 11-channel adapter) loses them (zeros: "not given"), so a path with
    # a colour but no shape (a user's motion brush) stays a map the model has seen.
    p_shape_drop: Probability = 0.0
    # World data only: the scenarios whose captions may be dropped (None: every clip). The unconditional
    # model learns the clips it sees without a caption: ["general"] keeps the paper's red-ball scenes out
    # of it (kinema-world-v1's run 5; its control run without the rule did as well: the model card).
    text_drop_scenarios: list[str] | None = None

    @model_validator(mode="after")
    def _tasks_sum_to_one(self) -> ConditioningSection:
        tasks = ("p_t2v", "p_first_frame", "p_continuation", "p_keyframes")
        total = sum(getattr(self, name) for name in tasks)
        if abs(total - 1.0) >= 1e-6:
            raise ValueError(
                f"conditioning task probabilities ({', '.join(tasks)}) must sum to 1, got {total:g}"
            )
        return self

    @field_validator("text_drop_scenarios")
    @classmethod
    def _known_scenarios(cls, names: list[str] | None) -> list[str] | None:
        from kinema.world.dataset import ALL_SCENARIOS

        if names is not None and (not names or set(names) - set(ALL_SCENARIOS)):
            raise ValueError(
                f"conditioning.text_drop_scenarios {names} must be a non-empty subset of {list(ALL_SCENARIOS)}"
            )
        return names


class FlowSection(_Section):
    shift: Float | None = None  # None: resolution_shift(number of latent tokens)
    logit_mean: Float = 0.0
    logit_std: Float = 1.0


class VAELossSection(_Section):
    l1_weight: Float = 1.0
    # Squared error: on sparse scenes (small balls on a flat background) L1 alone pulls the decoder to the
    # per-pixel median, the background - measured: the kinema-world VAE drew empty white frames after 500
    # steps of L1 (held-out PSNR stuck at 14 dB). L2's gradient grows with the error, so objects come back.
    l2_weight: Float = 0.0
    foreground_weight: Float = 0.0  # extra loss weight on pixels unlike their frame's median (objects)
    kl_weight: Float = 1e-6
    adv_weight: Float = Field(0.0, ge=0)  # 0 = no discriminator
    adv_start_step: Int = 0
    disc_lr: Float = 1e-4
    disc_channels: Int = 32


class ExportSection(_Section):
    dir: str | None = None  # default: <run_dir>/export
    max_shard_size: str = "10MB"  # safetensors shards stay small (device boxes return files < 16 MiB)
    use_ema: StrictBool = True
    # Storage dtype of the exported DiT weights (DiT jobs; the VAE stays fp32). fp16/bf16 halve the folder;
    # loading casts them back to the pipeline's dtype (fp32 on a CPU).
    transformer_dtype: Literal["fp32", "fp16", "bf16"] = "fp32"
    # Pipeline defaults written into kinema.json
    num_inference_steps: Int = 30
    guidance_scale: Float = 5.0
    guidance_interval: tuple[Float, Float] = (0.0, 1.0)  # noise levels where guidance applies (1 = noise)
    trajectory_guidance_interval: tuple[Float, Float] | None = None  # with a trajectory map; None = the above
    guide_trajectory: StrictBool = False  # with a trajectory map, the unguided branch drops the map too
    trajectory_guidance_scale: Float | None = None  # with a trajectory map; None = guidance_scale
    sampler: str = "euler"


class TrainingConfig(_Section):
    kind: Literal["vae", "dit"] = "dit"
    name: str = "kinema"
    train: TrainSection = Field(default_factory=TrainSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    ema: EMASection = Field(default_factory=EMASection)
    data: DataSection = Field(default_factory=DataSection)
    vae: VAESection = Field(default_factory=VAESection)
    transformer: TransformerSection = Field(default_factory=TransformerSection)
    text_encoder: TextEncoderSection = Field(default_factory=TextEncoderSection)
    conditioning: ConditioningSection = Field(default_factory=ConditioningSection)
    flow: FlowSection = Field(default_factory=FlowSection)
    vae_loss: VAELossSection = Field(default_factory=VAELossSection)
    export: ExportSection = Field(default_factory=ExportSection)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON values (tuples as lists), in the order the fields are declared."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --------------------------------------------------------------------------------------------------------
# Loading: file + overrides -> plain dict -> typed, checked models
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
    """A recipe as a checked config: pydantic's first complaint becomes one sentence naming the key."""
    try:
        cfg = TrainingConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # An unknown key first: a typo explains the errors it causes elsewhere.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise InvalidInputError(_sentence(first)) from None
    # Checked here, not in the model: `TrainingConfig()` is a valid default, but a DiT run needs its VAE.
    if cfg.data.source == "codec" and cfg.kind != "vae":
        raise InvalidInputError(
            "data.source 'codec' (the codec mix) trains a VAE only; a DiT trains on 'world' or 'folder' data"
        )
    drop_from = cfg.conditioning.text_drop_scenarios
    if drop_from is not None:
        if cfg.data.source != "world":
            raise InvalidInputError(
                "conditioning.text_drop_scenarios names world scenarios; data.source "
                f"{cfg.data.source!r} has none: remove it (every caption may then be dropped)"
            )
        used = cfg.data.world.get("scenarios")
        used = [used] if isinstance(used, str) else used
        if used is not None and not set(drop_from) & set(used):
            raise InvalidInputError(
                f"conditioning.text_drop_scenarios {drop_from} names none of data.world.scenarios {list(used)}, "
                "so no caption would ever be dropped and classifier-free guidance would have nothing to "
                "guide from: name at least one scenario the data draws"
            )
    if cfg.kind == "dit" and not cfg.vae.path:
        raise InvalidInputError(
            "DiT training needs a trained VAE: set vae.path to the folder written by `kinema train vae`"
        )
    return cfg


def _sentence(error: ErrorDetails) -> str:
    loc, kind, got, ctx = error["loc"], error["type"], error.get("input"), error.get("ctx", {})
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if kind == "extra_forbidden":
        section = ".".join(map(str, loc[:-1]))
        model: Any = TrainingConfig
        for name in loc[:-1]:
            model = model.model_fields[name].annotation
        valid = ", ".join(model.model_fields)
        return f"unknown config key {where!r}; valid keys{' in ' + section if section else ''}: {valid}"
    if kind == "value_error":
        return str(ctx["error"])
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        return f"{where} must be {bounds[kind]} {next(iter(ctx.values()))}, got {got!r}"
    if kind == "literal_error":
        return f"{where} must be one of {ctx['expected'].replace(' or ', ', ')}, got {got!r}"
    if kind in ("too_short", "too_long"):
        wanted = ctx.get("min_length", ctx.get("max_length"))
        return f"{where} must have {wanted} items, got {ctx['actual_length']}"
    what = {
        "int_type": "an integer",
        "int_parsing": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "bool_type": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "tuple_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping of keys",
    }.get(kind)
    if what is None:
        return f"{where or 'config'}: {error['msg']}"
    return f"{where or 'config'} must be {what}, got {got!r}"
