"""What every diffusers-folder backend shares: recognising and describing the folder (torch-free), loading
it once with the memory/speed options mapped onto diffusers' own API, running a task's pipeline with
Kinema's sizes, seed, progress and cancel, and extending a video chunk by chunk with flat memory.

A family file (`wan.py`, `ltx.py`, ...) is a `DiffusersBackend` subclass with class data — the folder
classes it reads, its modes and options, each task's diffusers pipeline class, its native defaults — and
two hooks: `task_inputs(task, spec, req)` (the task's pipeline arguments) and `continue_inputs(tail, req)`
(how a chunk is conditioned on the end of the video: an i2v first frame, LTX conditions, VACE masks, or
the prefix latents of `LatentPrefix`).

A folder is a diffusers pipeline folder as saved by `save_pretrained` (`model_index.json` + components).
Its native size, fps and frame count are the family's published defaults; an optional
`kinema_defaults.json` beside `model_index.json` overrides them (`width`, `height`, `fps`, `num_frames`,
`max_frames`, `max_pixels`, `num_inference_steps`, `guidance_scale`), e.g. for a 720p checkpoint.

Memory and speed options (`LoadOptions`, the `kinema generate` flags of the same names), each one call:
  dtype          `from_pretrained(dtype=…)`
  offload        group: `pipe.enable_group_offload` (optionally to disk); model: `enable_model_cpu_offload`;
                 sequential: `enable_sequential_cpu_offload` (model/sequential need an accelerator)
  vae_tiling     `vae.enable_tiling()`
  fp8            `transformer.enable_layerwise_casting(storage_dtype=float8_e4m3fn)`
  quantize       `from_pretrained(quantization_config=PipelineQuantizationConfig(…))` (`quantize.py`:
                 torchao int8/fp8 weight-only, bitsandbytes nf4/int8, per component)
  memory         a budget (`auto` or bytes): the memory plan (`memory.py`) picks the options above that fit
  cache          `transformer.enable_cache(FirstBlockCacheConfig | PyramidAttentionBroadcastConfig |
                 TaylorSeerCacheConfig)`
  compile        `transformer.compile_repeated_blocks()`
  loras          `pipe.load_lora_weights` + `pipe.set_adapters` (needs peft: `pip install 'kinema[lora]'`);
                 a file, or a hub id `org/name[@revision]` (`kinema.backends.hub.resolve_lora`)
  transformer    a single-file transformer checkpoint (`.safetensors`, or `.gguf` with diffusers'
                 `GGUFQuantizationConfig`) through `<TransformerClass>.from_single_file`, the rest of the
                 pipeline from the folder or hub id
  context_parallel  `transformer.enable_parallelism(ContextParallelConfig(ulysses_degree | ring_degree=N))`
                 over the torchrun group, one GPU per process (diffusers 0.42 cannot on CPU/gloo)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kinema.backends.base import (
    GenerationSpec,
    ModelFacts,
    Output,
    VideoBackend,
    source_sound,
    wants_audio,
)
from kinema.errors import InvalidInputError, MissingDependencyError, ModelNotFoundError
from kinema.runtime import media
from kinema.runtime.extend import SoundTrack, extend_video, frames_to_add, split_chunk
from kinema.runtime.progress import Progress
from kinema.runtime.request import SPEC_OPTIONS, ModelDefaults, Request, resolve_request
from kinema.runtime.tasks import TASKS as TASK_ROWS

INDEX_FILE = "model_index.json"
DEFAULTS_FILE = "kinema_defaults.json"
DTYPES = ("bf16", "fp16", "fp32")
OFFLOADS = ("model", "sequential", "group")
CACHES = ("fbc", "pab", "taylorseer")
PARALLEL = ("ulysses", "ring")
SINGLE_FILE_SUFFIXES = (".safetensors", ".gguf")
_DEFAULT_KEYS = (
    "width",
    "height",
    "fps",
    "num_frames",
    "max_frames",
    "max_pixels",
    "num_inference_steps",
    "guidance_scale",
)


# ---- the folder, read without torch -------------------------------------------------------------------
def read_index(path: Path) -> dict[str, Any]:
    """A diffusers folder's model_index.json; ModelNotFoundError if it is missing or unreadable."""
    try:
        return json.loads((Path(path) / INDEX_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"{str(path)!r} has no readable {INDEX_FILE} ({exc}); pass a folder saved by diffusers."
        ) from None


def read_component_config(path: Path, component: str) -> dict[str, Any]:
    """`component/config.json` as a dict ({} when absent: the family's defaults apply)."""
    try:
        return json.loads((Path(path) / component / "config.json").read_text())
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class FamilyDefaults:
    """A family's published native settings (its pipelines' own `__call__` defaults)."""

    width: int
    height: int
    fps: float
    num_frames: int
    max_frames: int
    num_inference_steps: int = 50
    guidance_scale: float = 5.0
    max_pixels: int | None = None


# ---- load options ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadOptions:
    """How to load a diffusers folder; every field maps onto one diffusers call (module docstring)."""

    dtype: str | None = None  # bf16 | fp16 | fp32 (None: fp32 on CPU, bf16 on an accelerator)
    offload: str | None = None  # model | sequential | group
    offload_dir: Path | None = None  # group offloading to disk
    vae_tiling: bool = False
    fp8: bool = False  # transformer weights stored as float8_e4m3fn, computed in `dtype`
    cache: str | None = None  # fbc | pab | taylorseer
    compile: bool = False
    loras: tuple[tuple[str, float], ...] = ()  # (path, scale)
    context_parallel: str | None = None  # ulysses | ring, over the torchrun group (one GPU per process)
    transformer: Path | None = None  # a single-file transformer checkpoint (.safetensors / .gguf)
    quantize: str | None = None  # KIND[:COMPONENT,...]: int8 | fp8 (torchao), nf4 | bnb-int8 (bitsandbytes)
    memory: str | None = (
        None  # auto | SIZE (e.g. 24GB): plan the other options to fit (kinema.backends.memory)
    )

    def __post_init__(self) -> None:
        if self.quantize is not None:
            from kinema.backends.quantize import Quantization

            Quantization.parse(self.quantize)
        if self.memory is not None:
            from kinema.backends.memory import parse_memory

            parse_memory(self.memory)
        for name, value, choices in (
            ("dtype", self.dtype, DTYPES),
            ("offload", self.offload, OFFLOADS),
            ("cache", self.cache, CACHES),
            ("context_parallel", self.context_parallel, PARALLEL),
        ):
            if value is not None and value not in choices:
                raise InvalidInputError(f"{name}={value!r} is not one of {', '.join(choices)}; pick one.")
        if self.offload_dir is not None and self.offload != "group":
            raise InvalidInputError("An offload folder is for group offloading: add --offload group.")
        if self.transformer is not None:
            single = Path(self.transformer)
            if not single.is_file() or single.suffix not in SINGLE_FILE_SUFFIXES:
                raise InvalidInputError(
                    f"--transformer {str(single)!r} is not a {' or '.join(SINGLE_FILE_SUFFIXES)} file; pass a "
                    "single-file transformer checkpoint that exists."
                )

    @staticmethod
    def parse_lora(text: str) -> tuple[str, float]:
        """`PATH[:SCALE]` → (path, scale); the scale defaults to 1."""
        path, sep, scale = str(text).rpartition(":")
        if sep and path:
            try:
                return path, float(scale)
            except ValueError:
                pass
        return str(text), 1.0


def torch_dtype(name: str | None, device: str) -> Any:
    import torch

    if name is None:
        return torch.float32 if str(device).startswith("cpu") else torch.bfloat16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


# ---- the backend ----------------------------------------------------------------------------------------
class DiffusersBackend(VideoBackend):
    """Base of the diffusers-folder backends: subclasses set the class data and the two input hooks."""

    name = "diffusers"
    folder_classes: ClassVar[tuple[str, ...]] = ()  # model_index.json `_class_name`s this backend reads
    pipelines: ClassVar[dict[str, str]] = {}  # task → diffusers pipeline class name
    defaults: ClassVar[FamilyDefaults]
    transformer_names: ClassVar[tuple[str, ...]] = ("transformer", "transformer_2")
    context_frames: ClassVar[int] = 1  # extension: frames of the video's end each chunk is given
    unsupported_motion: ClassVar[str] = (
        "diffusers' pipelines for this family take no camera or trajectory input"
    )
    _prompt_memo: dict[Any, Any] | None = None  # a dict while an extension runs (see `encoded_once`)

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        dtype: Any = None,
        load: LoadOptions | None = None,
    ) -> None:
        self.path = Path(path)
        self.facts = self.read_facts(self.path)
        self.load = load or LoadOptions()
        self.device = str(device)
        if self.load.context_parallel and self.device == "cuda":  # torchrun: one GPU per process
            import os

            self.device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        if isinstance(dtype, str):
            self.load = replace(self.load, dtype=dtype)
        self._dtype = dtype if dtype is not None and not isinstance(dtype, str) else None
        self._pipes: dict[str, Any] = {}
        self.memory_plan = None
        if self.load.memory is not None:
            self.plan_memory()

    # ---- facts (no torch) ---------------------------------------------------------------------------
    @classmethod
    def variant(cls, path: Path) -> type[DiffusersBackend]:
        """The backend for this folder among the family's variants (read from its configs, no torch)."""
        return cls

    @classmethod
    def folder_options(cls, path: Path) -> tuple[str, ...]:
        """The options this folder offers: the family's, less any whose weights the folder lacks."""
        return cls.options

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        """(size multiple, temporal compression): VAE spatial × transformer patch, VAE temporal."""
        raise NotImplementedError

    @classmethod
    def folder_defaults(cls, path: Path, index: dict[str, Any]) -> FamilyDefaults:
        """The family's defaults for this folder (a family whose folders carry their own, e.g. a saved
        guider's scale or a distilled flag, reads them here); kinema_defaults.json still overrides them."""
        return cls.defaults

    @classmethod
    def read_facts(cls, path: Path, name: str | None = None) -> ModelFacts:
        path = Path(path)
        index = read_index(path)
        d = cls.folder_defaults(path, index)
        values: dict[str, Any] = {k: getattr(d, k) for k in _DEFAULT_KEYS}
        if (path / DEFAULTS_FILE).is_file():
            try:
                given = json.loads((path / DEFAULTS_FILE).read_text())
            except ValueError as exc:
                raise InvalidInputError(
                    f"{path / DEFAULTS_FILE} is not valid JSON ({exc}); fix it."
                ) from None
            unknown = sorted(set(given) - set(_DEFAULT_KEYS))
            if unknown:
                raise InvalidInputError(
                    f"{path / DEFAULTS_FILE}: unknown keys {unknown}; known: {', '.join(_DEFAULT_KEYS)}."
                )
            values.update(given)
        values["max_frames"] = max(int(values["max_frames"]), int(values["num_frames"]))
        multiple, temporal = cls.grid(path)
        return ModelFacts(
            name=name or path.name,
            path=path.resolve(),
            backend=cls.name,
            modes=cls.modes,
            options=cls.folder_options(path),
            width=int(values["width"]),
            height=int(values["height"]),
            fps=float(values["fps"]),
            num_frames=int(values["num_frames"]),
            max_frames=int(values["max_frames"]),
            max_pixels=values["max_pixels"],
            size_multiple=multiple,
            temporal_compression=temporal,
            num_inference_steps=int(values["num_inference_steps"]),
            audio=cls.makes_audio,
            created_at=int((path / INDEX_FILE).stat().st_mtime),
            config={**index, "guidance_scale": float(values["guidance_scale"])},
        )

    # ---- loading ------------------------------------------------------------------------------------
    def plan_memory(
        self, width: int | None = None, height: int | None = None, frames: int | None = None
    ) -> Any:
        """Plan the load options for `load.memory` (the native request unless a size is given), apply the
        chosen plan, and keep it in `memory_plan` (its `.table()` is what `kinema plan` prints)."""
        from kinema.backends.memory import apply_plan, fixed_options, plan_for_folder

        memory = self.load.memory if self.load.memory is not None else "auto"
        plan = plan_for_folder(
            self.path, memory, self.device, self.load.dtype, width, height, frames, fixed_options(self.load)
        )
        self.memory_plan = plan
        self.load = apply_plan(plan, self.load)
        return plan

    def pipeline(self, task: str) -> Any:
        """The task's diffusers pipeline; every task shares the components loaded once for the first."""
        if task not in self._pipes:
            import diffusers

            cls = getattr(diffusers, self.pipelines[task])
            if not self._pipes:
                self._pipes[task] = self._load(cls)
            else:
                first = next(iter(self._pipes.values()))
                self._pipes[task] = first if type(first) is cls else cls.from_pipe(first)
                self._pipes[task].set_progress_bar_config(disable=True)
        return self._pipes[task]

    def _load(self, cls: Any) -> Any:
        """The folder as `cls`, with the load options applied, each through diffusers' own API."""
        self.check_load()
        from kinema.backends.hub import weight_variant

        dtype = self._dtype or torch_dtype(self.load.dtype, self.device)
        given: dict[str, Any] = {}
        variant = weight_variant(self.path, self.load.dtype)
        if variant is not None:  # a folder (or a pulled snapshot) holding e.g. only the bf16 files
            given["variant"] = variant
        if self.load.transformer is not None:
            given["transformer"] = self._single_file_transformer(dtype)
        if self.load.quantize:
            from kinema.backends.quantize import Quantization, pipeline_quantization

            quant = Quantization.parse(self.load.quantize)
            given["quantization_config"] = pipeline_quantization(quant, read_index(self.path), dtype)
        pipe = cls.from_pretrained(self.path, dtype=dtype, local_files_only=True, **given)
        return self.configure(pipe, dtype)

    def _single_file_transformer(self, dtype: Any) -> Any:
        """The --transformer checkpoint as the folder's transformer class, configured by the folder's
        transformer/config.json: diffusers' `from_single_file` converts an original-format (ComfyUI-style)
        state dict and keeps a diffusers-format one; a GGUF file stays quantized, dequantized per layer to
        `dtype` as it computes (`GGUFQuantizationConfig`)."""
        import diffusers

        entry = read_index(self.path).get("transformer")
        if not isinstance(entry, list) or entry[1] is None:
            raise InvalidInputError(
                f"{self.model_name!r} has no transformer component for --transformer to replace; drop it."
            )
        single = Path(self.load.transformer)
        extra: dict[str, Any] = {}
        if single.suffix == ".gguf":
            _require("gguf", "GGUF checkpoints", "gguf")
            extra["quantization_config"] = diffusers.GGUFQuantizationConfig(compute_dtype=dtype)
        return getattr(diffusers, entry[1]).from_single_file(
            str(single),
            config=str(self.path),
            subfolder="transformer",
            torch_dtype=dtype,
            local_files_only=True,
            **extra,
        )

    def check_load(self) -> None:
        """InvalidInputError / MissingDependencyError for options this device or install cannot honour."""
        opts = self.load
        accelerator = not self.device.startswith("cpu")
        if opts.offload in ("model", "sequential") and not accelerator:
            raise InvalidInputError(
                f"--offload {opts.offload} moves weights to an accelerator as they are needed; on the CPU "
                "use --offload group (or none), or pass --device cuda."
            )
        if opts.fp8 and not accelerator:
            raise InvalidInputError(
                "fp8 weight storage (layerwise casting) is for accelerators; drop --fp8 on the CPU."
            )
        if opts.loras:
            _require("peft", "LoRA adapters", "lora")
        if opts.quantize:
            from kinema.backends.quantize import Quantization, check_quantization

            check_quantization(Quantization.parse(opts.quantize), accelerator)
        if opts.context_parallel and not accelerator:
            # diffusers 0.42 builds the mesh on the accelerator (rank % torch.accelerator.device_count():
            # a ZeroDivisionError on a CPU-only torch, gloo included; measured)
            raise InvalidInputError(
                "Context parallelism needs one GPU per process: run `torchrun --nproc-per-node N -m kinema.cli "
                "generate ... --device cuda --context-parallel ulysses`; on the CPU drop --context-parallel."
            )

    def configure(self, pipe: Any, dtype: Any) -> Any:
        """Apply the load options to a loaded pipeline (LoRA, fp8, cache, tiling, offload, compile)."""
        opts, accelerator = self.load, not self.device.startswith("cpu")
        pipe.set_progress_bar_config(disable=True)
        from kinema.backends.hub import resolve_lora

        for i, (lora, _) in enumerate(opts.loras):  # before offloading hooks wrap the layers
            pipe.load_lora_weights(resolve_lora(lora), adapter_name=f"lora{i}")
        if opts.loras:
            pipe.set_adapters([f"lora{i}" for i in range(len(opts.loras))], [s for _, s in opts.loras])
        transformers = [
            getattr(pipe, n) for n in self.transformer_names if getattr(pipe, n, None) is not None
        ]
        for transformer in transformers:
            if opts.fp8:
                import torch

                transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
            if opts.cache:
                transformer.enable_cache(self._cache_config(pipe, opts.cache))
        if opts.vae_tiling:
            pipe.vae.enable_tiling()
        if opts.offload == "group":
            pipe.enable_group_offload(
                onload_device=self.device,
                offload_device="cpu",
                offload_type="block_level",
                num_blocks_per_group=1,
                use_stream=accelerator,
                offload_to_disk_path=str(opts.offload_dir) if opts.offload_dir else None,
                # diffusers 0.42 restores LTX's VAE from disk as NaN (measured: black frames); the VAE is
                # the smallest component, so it stays whole in memory when offloading to disk
                exclude_modules=["vae"] if opts.offload_dir else None,
            )
            if opts.offload_dir:
                pipe.vae.to(self.device)
        elif opts.offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif opts.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        if opts.context_parallel:
            config = self._parallel_config(opts.context_parallel)
            for transformer in transformers:
                transformer.enable_parallelism(config=config)
        if opts.compile:
            for transformer in transformers:
                transformer.compile_repeated_blocks(fullgraph=True)
        return pipe

    def _parallel_config(self, kind: str) -> Any:
        """diffusers' ContextParallelConfig over every process of the torchrun group (NCCL)."""
        import torch.distributed as dist
        from diffusers import ContextParallelConfig

        if not dist.is_initialized():
            dist.init_process_group("nccl")
        world = dist.get_world_size()
        return ContextParallelConfig(**{f"{kind}_degree": world})

    def generate(self, spec: GenerationSpec) -> Any:
        """As the base's; under context parallelism every rank computes the same frames and only rank 0
        delivers them (the others discard theirs)."""
        if self.load.context_parallel and _rank() != 0:
            spec = spec.model_copy(update={"output_path": None, "sink": _Discard()})
        return super().generate(spec)

    @classmethod
    def from_pipeline(
        cls, pipe: Any, path: str | Path, device: str = "cpu", load: LoadOptions | None = None
    ) -> DiffusersBackend:
        """A backend over an already built pipeline (benchmarks, a caller's own components): `path` holds
        the folder's facts (model_index.json and component configs; weights are not read)."""
        backend = cls.variant(Path(path))(path, device=device, load=load)
        task = next(t for t in backend.modes if backend.pipelines[t] == type(pipe).__name__)
        backend.check_load()
        backend._pipes[task] = backend.configure(pipe, pipe.dtype)
        return backend

    @staticmethod
    def _cache_config(pipe: Any, cache: str) -> Any:
        """diffusers' step-cache configs at their documented starting points."""
        import diffusers

        if cache == "fbc":
            return diffusers.FirstBlockCacheConfig(threshold=0.05)
        if cache == "pab":
            return diffusers.PyramidAttentionBroadcastConfig(
                spatial_attention_block_skip_range=2,
                spatial_attention_timestep_skip_range=(100, 800),
                current_timestep_callback=lambda: pipe.current_timestep,
            )
        return diffusers.TaylorSeerCacheConfig(cache_interval=2, disable_cache_before_step=1)

    # ---- checks -------------------------------------------------------------------------------------
    def check(self, spec: GenerationSpec) -> None:
        motion = sorted(n for n in ("camera_control", "trajectories") if n in spec.given())
        if motion:
            raise InvalidInputError(
                f"Model {self.model_name!r} cannot take {', '.join(motion)}: {self.unsupported_motion}; "
                "drop it, or use a Kinema model for camera and motion-brush control."
            )
        super().check(spec)

    # ---- running ------------------------------------------------------------------------------------
    def run(self, spec: GenerationSpec, output: Output) -> None:
        if TASK_ROWS[spec.task].adds_length:
            self.extend(spec, output)
            return
        like = self._given_size(spec)
        req = self.request(spec, output.fps, like=like)
        progress = Progress(spec.callback, req.num_inference_steps + 1)  # steps, then the decode
        frames, audio = self.call_av(spec.task, req, progress, **self.task_inputs(spec.task, spec, req))
        if audio is not None and wants_audio(spec, self.makes_audio):
            output.write_audio(audio, self.audio_rate())  # before the frames: it fixes the file's tracks
        output.write(frames)

    def audio_rate(self) -> int:
        """The sample rate of the pipelines' sound (a sound-making family says where it is configured)."""
        raise NotImplementedError

    @property
    def sampling_defaults(self) -> ModelDefaults:
        """The folder's defaults (the family's, or its kinema_defaults.json); the pipeline keeps its own
        negative prompt when none is given."""
        facts = self.facts
        return ModelDefaults(facts.fps, facts.num_inference_steps, float(facts.config["guidance_scale"]))

    def request(self, spec: GenerationSpec, fps: float, like: tuple[int, int] | None = None) -> Request:
        """The spec's size, length and sampling, checked against the model's rules. A still image is one
        frame; an extension's num_frames / seconds are what to add, so one chunk is the native length."""
        row = TASK_ROWS[spec.task]
        given = {n: getattr(spec, n) for n in SPEC_OPTIONS}
        if not row.motion or row.adds_length:
            given.update(num_frames=1 if not row.motion else None, seconds=None)
        return resolve_request(
            self.facts.rules, self.sampling_defaults, [spec.prompt], fps=fps, like=like, **given
        )

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        """The arguments every family's pipelines take (a family adds e.g. `frame_rate`)."""
        kwargs = dict(
            prompt=req.prompt,
            height=req.size.height,
            width=req.size.width,
            num_frames=num_frames,
            num_inference_steps=req.num_inference_steps,
            guidance_scale=req.guidance_scale,
            generator=req.generator,
        )
        if req.negative_prompt is not None:
            kwargs["negative_prompt"] = req.negative_prompt
        return kwargs

    def call(self, task: str, req: Request, progress: Progress, **kwargs: Any) -> np.ndarray:
        """Run the task's pipeline once → uint8 (T, H, W, 3) (`call_av` without the sound)."""
        return self.call_av(task, req, progress, **kwargs)[0]

    def call_av(
        self,
        task: str,
        req: Request,
        progress: Progress,
        num_frames: int | None = None,
        step_hook: Any = None,
        drop_leading: int = 0,
        **inputs: Any,
    ) -> tuple[np.ndarray, Any]:
        """Run the task's pipeline once → (uint8 (T, H, W, 3), its sound float (C, n) or None), less
        `drop_leading` frames that the pipeline returns before its own (SkyReels' video→video returns the
        given video first)."""
        pipe = self.pipeline(task)
        steps, start = req.num_inference_steps, progress.step  # this call's units: `steps`, then 1 decode

        def on_step_end(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if step_hook is not None:
                tensors = step_hook(p, i, t, tensors)
            # v2v runs strength × steps timesteps: mapped onto this call's `steps` units
            n = max(1, int(getattr(p, "_num_timesteps", None) or steps))
            progress.reach(start + math.ceil((i + 1) * steps / n), "denoising")
            return tensors

        kwargs = {**self.call_kwargs(req, num_frames or req.size.num_frames), **inputs}
        accepted = self.accepted(pipe)
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        if "callback_on_step_end" in accepted:
            kwargs.update(callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"])
            stepping = nullcontext()
        else:  # HunyuanVideo 1.5's guider-based pipelines take no step callback
            stepping = after_each_step(pipe, on_step_end)
        with encoded_once(pipe, self._prompt_memo), stepping:
            result = pipe(
                **kwargs, output_type="pt"
            )  # to uint8 in torch: no float copies of the clip in numpy
        video = result.frames[0][drop_leading:]  # float (T, 3, H, W) in [0, 1]
        audio = getattr(result, "audio", None)  # LTX-2: float (B, C, n)
        progress.reach(start + steps + 1, "decoding")
        return to_uint8(video), None if audio is None else audio[0].float().cpu().numpy()

    @staticmethod
    def accepted(pipe: Any) -> set[str]:
        import inspect

        return set(inspect.signature(type(pipe).__call__).parameters)

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        """The task's own pipeline arguments (images, video, strength, ...)."""
        return {}

    def strength(self, spec: GenerationSpec, req: Request) -> float:
        """A remix's strength (Kinema's default where not given); diffusers runs int(steps × strength)
        of the steps, so at least one must remain."""
        from kinema.pipelines.pipeline_video_to_video import DEFAULT_STRENGTH  # (imports torch)

        strength = DEFAULT_STRENGTH if spec.strength is None else float(spec.strength)
        if not 0 < strength <= 1:
            raise InvalidInputError(f"strength={strength} must be in (0, 1].")
        if int(req.num_inference_steps * strength) < 1:
            raise InvalidInputError(
                f"strength {strength:g} × {req.num_inference_steps} steps leaves no denoising step; "
                "raise the steps or the strength."
            )
        return strength

    # ---- given pictures -----------------------------------------------------------------------------
    def _given_size(self, spec: GenerationSpec) -> tuple[int, int] | None:
        """(width, height) of the given image / source video, whose size the result keeps when it can."""
        row = TASK_ROWS[spec.task]
        if row.size_from == "image" and spec.image is not None:
            image = media.read_image(spec.image)
            return self.size_for(image.shape[1], image.shape[0])
        if row.size_from == "video" and spec.video is not None:
            return self.size_for(*media.video_size(spec.video))
        return None

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) a picture of this size is made at: its own, unless the family's pipeline
        picks sizes itself (HunyuanVideo 1.5's image→video takes a bucket of its `target_size`)."""
        return width, height

    def image(self, source: Any, req: Request) -> Any:
        """A given picture as a PIL image of the output size (cover-resized, centre-cropped)."""
        from PIL import Image

        return Image.fromarray(media.fit_frame(media.read_image(source), req.size.width, req.size.height))

    def source_video(self, video: Any, req: Request) -> list[Any]:
        """A v2v source as PIL frames of the output size: its first 1 + 4k frames (at most max_frames)."""
        from PIL import Image

        c, limit = self.facts.temporal_compression, self.facts.max_frames
        frames: list[Any] = []
        for frame in media.open_video(video, self.facts.fps)[0]:
            if len(frames) == limit:
                raise InvalidInputError(
                    f"The source video is longer than the {limit} frames this model remixes in one pass; "
                    "trim it, or remix it in parts."
                )
            frames.append(Image.fromarray(media.fit_frame(frame, req.size.width, req.size.height)))
        if not frames:
            raise InvalidInputError("The source video has no frames.")
        return frames[: 1 + c * ((len(frames) - 1) // c)]

    # ---- extension ----------------------------------------------------------------------------------
    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        """(task whose pipeline makes the chunk, its arguments) for a chunk whose first `len(tail)` frames
        continue `tail` (uint8 (n, H, W, 3), the end of the video so far)."""
        raise NotImplementedError

    def extend(self, spec: GenerationSpec, output: Output) -> None:
        """Continue the source video chunk by chunk (`kinema.runtime.extend`): each chunk is a native-length
        generation conditioned on the last frames so far (`continue_inputs`); its remake of those frames is
        dropped (or crossfaded into them) and the rest streamed to the output. Memory stays flat."""
        if spec.video is None:
            raise InvalidInputError(
                "Extension needs a source video (an MP4 path or uint8 (T, H, W, 3) frames)."
            )
        self._prompt_memo = {}  # every chunk has the same prompt: the text encoder runs once
        try:
            self._extend(spec, output)
        finally:
            self._prompt_memo = None

    def _extend(self, spec: GenerationSpec, output: Output) -> None:
        source, _, like = media.open_video(spec.video, output.fps)
        req = self.request(spec, output.fps, like=self.size_for(*like))
        add = frames_to_add(spec.num_frames, spec.seconds, output.fps, self.facts.num_frames / self.facts.fps)
        c = self.facts.temporal_compression  # context: 1 + ck frames, shorter than a chunk
        context = 1 + c * ((min(self.context_frames, req.size.num_frames - 1) - 1) // c)
        if not 0 <= spec.crossfade_frames <= context:
            raise InvalidInputError(
                f"crossfade_frames={spec.crossfade_frames} must be within 0 … {context} "
                f"(the frames each chunk continues from, for {self.name})."
            )
        new_per_chunk = req.size.num_frames - context
        progress = Progress(spec.callback, math.ceil(add / new_per_chunk) * (req.num_inference_steps + 1))
        width, height = req.size.width, req.size.height
        track = self.sound_track(spec, output)
        start = media_length(spec.video)

        def make_chunk(given: np.ndarray, position: int) -> tuple[np.ndarray, np.ndarray]:
            task, inputs = self.continue_inputs(given, req)
            frames, audio = self.call_av(task, req, progress, **inputs)  # (T, H, W, 3), (C, n)
            overlap, new = split_chunk(frames, len(given))
            if track is not None:  # the chunk's own sound, cross-faded at the join
                track.chunk(audio, len(given), min(len(new), add - (position - start)))
            return overlap, new

        extend_video(
            source,
            output.write,
            make_chunk,
            fit=lambda frame: media.fit_frame(frame, width, height),
            add=add,
            context=context,
            temporal_compression=c,
            include_source=spec.include_source,
            crossfade_frames=spec.crossfade_frames,
        )
        if track is not None:
            track.flush()

    def sound_track(self, spec: GenerationSpec, output: Output) -> SoundTrack | None:
        """A sound-making model's extension keeps the source's sound and continues it chunk by chunk (the
        pipelines take no sound to condition on, so each chunk makes its own, cross-faded at the join);
        None when the result has no sound. Written before the first frame: it fixes the file's tracks."""
        if not wants_audio(spec, self.makes_audio):
            return None
        track = SoundTrack(output.write_audio, self.audio_rate(), output.fps)
        sound = source_sound(spec)
        if sound is not None and sound[1] != track.rate:
            from kinema.io.video import resample_audio

            sound = resample_audio(*sound, track.rate), track.rate
        track.source(None if sound is None else sound[0], media_length(spec.video), spec.include_source)
        if not spec.include_source:
            output.write_audio(np.zeros((2, 0), np.float32), track.rate)  # the track exists from the start
        return track


# ---- prefix latents: continuation for pipelines with no frame conditioning -------------------------------
class LatentPrefix:
    """Continuation for a text→video pipeline (no image input): after every denoising step the chunk's
    first latent frames are replaced by the given frames' latents noised to the next step's level, so the
    model denoises the rest around a fixed start — the training-free temporal inpainting of RePaint
    (Lugmayr et al. 2022), through diffusers' `callback_on_step_end`. Flow-matching schedulers (Wan, LTX,
    HunyuanVideo): x_σ = (1 − σ)·x₀ + σ·ε at the scheduler's next sigma; the others (CogVideoX's DDIM/DPM):
    the scheduler's own `add_noise` at the next timestep. After the last step the prefix is x₀ itself.
    `channels`: where the pipeline's latents carry conditioning channels after the denoised ones (Kandinsky 5,
    channels last), only the first `channels` of the last axis are held."""

    def __init__(self, latents: Any, generator: Any, time_dim: int = 2, channels: int | None = None) -> None:
        import torch

        self.x0, self.time_dim = latents, time_dim  # normalised latents, time along `time_dim`
        self.channels = channels
        self.noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)

    def noised(self, scheduler: Any, i: int) -> Any:
        """The prefix at the level the latents are at after step i."""
        timesteps = scheduler.timesteps
        if i + 1 >= len(timesteps):
            return self.x0
        flow = "Flow" in type(scheduler).__name__ or getattr(scheduler.config, "use_flow_sigmas", False)
        if flow:
            sigma = float(scheduler.sigmas[i + 1])
            return (1 - sigma) * self.x0 + sigma * self.noise
        return scheduler.add_noise(self.x0, self.noise, timesteps[i + 1 : i + 2])

    def __call__(self, pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        latents = tensors["latents"].clone()
        prefix = self.noised(pipe.scheduler, i).to(latents.dtype)
        held = latents if self.channels is None else latents.narrow(-1, 0, self.channels)
        held.narrow(self.time_dim, 0, self.x0.shape[self.time_dim]).copy_(prefix)
        tensors["latents"] = latents
        return tensors


# ---- helpers ----------------------------------------------------------------------------------------------
def media_length(video: Any) -> int:
    """Frames of a source video (MP4 path or uint8 (T, H, W, 3)), from the container without decoding."""
    if isinstance(video, np.ndarray):
        return len(video)
    from kinema.io import probe_video

    return probe_video(video).num_frames


class _Discard:
    def write(self, frames: np.ndarray) -> None:
        pass


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _require(module: str, feature: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"{feature} need the {module!r} package: pip install 'kinema[{extra}]' (or pip install {module})."
        )


def to_uint8(video: Any) -> np.ndarray:
    """float (T, 3, H, W) tensor in [0, 1] → uint8 (T, H, W, 3), rounded as diffusers' numpy output is."""
    import torch

    with torch.no_grad():
        video = (video.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return video.permute(0, 2, 3, 1).contiguous().cpu().numpy()


_PLAIN = (str, bytes, int, float, bool, type(None))


def _memo_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A hashable key for an `encode_prompt` call whose arguments are all plain values (prompts, flags,
    lengths, device, dtype), else None (given embeddings are not memoised)."""
    import torch

    def plain(v: Any) -> bool:
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        return isinstance(v, (*_PLAIN, torch.device, torch.dtype))

    values = (*args, *kwargs.values())
    if not all(plain(v) for v in values):
        return None
    freeze = lambda v: tuple(freeze(x) for x in v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return freeze(args), tuple(sorted((k, freeze(v)) for k, v in kwargs.items()))


@contextmanager
def encoded_once(pipe: Any, memo: dict[Any, Any] | None) -> Iterator[None]:
    """While `memo` is a dict, the pipeline's `encode_prompt` answers a repeated call from `memo`: an
    extension runs the pipeline once per chunk with the same prompt, and re-encoding it each time costs a
    text-encoder pass (and leaves the tokenizer's small objects behind) per chunk. The embeddings are the same
    tensors each time; the diffusers pipelines build new tensors from them (cat, to), never in place."""
    original = getattr(pipe, "encode_prompt", None)
    if memo is None or not callable(original):
        yield
        return

    def encode_prompt(*args: Any, **kwargs: Any) -> Any:
        key = _memo_key(args, kwargs)
        if key is None:
            return original(*args, **kwargs)
        key = (id(pipe), key)
        if key not in memo:
            memo[key] = original(*args, **kwargs)
        return memo[key]

    pipe.encode_prompt = encode_prompt  # an instance attribute over the class's method
    try:
        yield
    finally:
        del pipe.encode_prompt  # the class's method again


@contextmanager
def after_each_step(pipe: Any, on_step_end: Any) -> Iterator[None]:
    """`callback_on_step_end` for a pipeline that takes none: while it runs, its scheduler's `step` calls
    `on_step_end(pipe, i, t, {"latents": …})` on the latents it returns — the point where diffusers' own
    pipelines call it — so progress, cancel and step hooks (`LatentPrefix`) work the same way."""
    scheduler = pipe.scheduler
    original, count = scheduler.step, [0]

    def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(model_output, timestep, sample, *args, **kwargs)
        i, count[0] = count[0], count[0] + 1
        latents = out[0] if isinstance(out, tuple) else out.prev_sample
        latents = on_step_end(pipe, i, timestep, {"latents": latents})["latents"]
        if isinstance(out, tuple):
            return (latents, *out[1:])
        out.prev_sample = latents
        return out

    scheduler.step = step  # an instance attribute over the class's method
    try:
        yield
    finally:
        del scheduler.step
