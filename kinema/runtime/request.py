"""A request resolved against a model, for every model family: size and length (`sizes.py`), frame rate,
sampling and seed, with every unset value taken from one place, the model's `ModelDefaults` (Kinema:
its kinema.json; a diffusers folder: its family's published defaults, or its kinema_defaults.json)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kinema.errors import InvalidInputError
from kinema.pipelines.sizes import SizeRules, VideoSize, resolve_size
from kinema.runtime.media import size_like
from kinema.runtime.progress import ProgressCallback

# GenerationSpec fields that are request options of the same names (resolve_request's arguments, and the
# keyword options of every Kinema pipeline): what a backend passes on as they are.
SPEC_OPTIONS: tuple[str, ...] = (
    "negative_prompt",
    "width",
    "height",
    "aspect_ratio",
    "num_frames",
    "seconds",
    "num_inference_steps",
    "guidance_scale",
    "guidance_interval",
    "sampler",
    "seed",
    "callback",
    "camera_control",
    "trajectories",
    "guide_trajectory",
)


@dataclass(frozen=True)
class ModelDefaults:
    """What a request leaves unset becomes this: the model's own sampling settings."""

    fps: float
    num_inference_steps: int
    guidance_scale: float
    negative_prompt: str | None = None  # None: the model's pipeline keeps its own (diffusers)
    sampler: str | None = None  # Kinema's schedulers: "euler" | "unipc"
    shift: float | None = None  # flow-matching timestep shift
    decode_chunk_frames: int = 0  # latent frames per VAE decode chunk (Kinema's causal VAE)
    # noise levels (sigma, 1 = pure noise) where classifier-free guidance applies; outside it the model runs
    # on the prompt alone (Kynkäänniemi et al., arXiv 2404.07724: guidance at the noisiest steps drops modes)
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    # the interval when a trajectory map sets the motion (physics mode, motion brush); None = the one above
    trajectory_guidance_interval: tuple[float, float] | None = None
    # with a trajectory map, the unguided branch also loses the map, so guidance pushes towards the map's
    # motion and looks as well as the prompt (a model trained with the map dropped, as Kinema's are)
    guide_trajectory: bool = False
    trajectory_guidance_scale: float | None = None  # with a trajectory map; None = guidance_scale


@dataclass
class Request:
    """A generation request with every default filled in and every value checked."""

    prompts: list[str]
    negative_prompts: list[str] | None  # None: the pipeline's own default
    size: VideoSize
    fps: float
    num_inference_steps: int
    guidance_scale: float
    generator: Any = field(
        default=None, compare=False
    )  # torch.Generator on the CPU (same draw on any device)
    seed: int | None = None
    sampler: str | None = None
    shift: float | None = None
    callback: ProgressCallback | None = None
    camera_control: Mapping[str, Any] | None = None
    trajectories: Any = None
    decode_chunk_frames: int = 0
    return_latents: bool = False
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    guide_trajectory: bool = False  # the unguided branch drops the trajectory map too

    @property
    def batch_size(self) -> int:
        return len(self.prompts)

    @property
    def prompt(self) -> str:
        return self.prompts[0]

    @property
    def negative_prompt(self) -> str | None:
        return None if self.negative_prompts is None else self.negative_prompts[0]


def resolve_request(
    rules: SizeRules,
    defaults: ModelDefaults,
    prompts: Sequence[str],
    negative_prompt: str | Sequence[str] | None = None,
    *,
    width: int | None = None,
    height: int | None = None,
    aspect_ratio: str | None = None,
    num_frames: int | None = None,
    seconds: float | None = None,
    fps: float | None = None,
    source_fps: float | None = None,
    like: tuple[int, int] | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    seed: int | None = None,
    generator: Any = None,
    sampler: str | None = None,
    shift: float | None = None,
    decode_chunk_frames: int | None = None,
    guidance_interval: Sequence[float] | None = None,
    guide_trajectory: bool | None = None,
    **rest: Any,
) -> Request:
    """Check the values and fill in the model's defaults. `like` = (width, height) of a given image or
    video: its size is kept when the model can make it, else the closest aspect preset is used. The frame
    rate is the asked one, else the source's (`source_fps`), else the model's. `rest`: callback,
    camera_control, trajectories, return_latents (carried as given)."""
    prompts = list(prompts)
    negative = defaults.negative_prompt if negative_prompt is None else negative_prompt
    negatives = (
        None
        if negative is None
        else [negative] * len(prompts)
        if isinstance(negative, str)
        else list(negative)
    )
    if negatives is not None and len(negatives) != len(prompts):
        raise InvalidInputError(
            f"Got {len(negatives)} negative prompts for {len(prompts)} prompts; give one each."
        )
    if like is not None and width is None and height is None and aspect_ratio is None:
        width, height, aspect_ratio = size_like(rules, *like)
    fps = float(fps or source_fps or defaults.fps)
    if fps <= 0:
        raise InvalidInputError(f"fps={fps} must be positive.")
    size = resolve_size(rules, width, height, aspect_ratio, num_frames, seconds, fps)
    steps = num_inference_steps or defaults.num_inference_steps
    if steps < 1:
        raise InvalidInputError(f"num_inference_steps={steps} must be at least 1.")
    shift = defaults.shift if shift is None else shift
    mapped = rest.get("trajectories") is not None  # a trajectory map sets the motion: its own defaults

    def default(asked: Any, plain: Any, with_map: Any) -> Any:
        """The asked value, else the model's: its with-a-map one when there is a map and it sets one."""
        if asked is not None:
            return asked
        return with_map if mapped and with_map is not None else plain

    guidance_interval = default(
        guidance_interval, defaults.guidance_interval, defaults.trajectory_guidance_interval
    )
    guidance_scale = default(guidance_scale, defaults.guidance_scale, defaults.trajectory_guidance_scale)
    interval = check_guidance_interval(guidance_interval)
    if generator is None and seed is not None:
        import torch

        generator = torch.Generator("cpu").manual_seed(int(seed))
    return Request(
        prompts=prompts,
        negative_prompts=negatives,
        size=size,
        fps=fps,
        num_inference_steps=int(steps),
        guidance_scale=float(guidance_scale),
        generator=generator,
        seed=seed,
        sampler=sampler or defaults.sampler,
        shift=None if shift is None else float(shift),
        decode_chunk_frames=decode_chunk_frames or defaults.decode_chunk_frames,
        guidance_interval=interval,
        guide_trajectory=bool(defaults.guide_trajectory if guide_trajectory is None else guide_trajectory),
        **rest,
    )


def check_guidance_interval(value: Sequence[float]) -> tuple[float, float]:
    """`[low, high]` noise levels as a checked `(low, high)`; `InvalidInputError` says what to fix."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"guidance_interval={value!r} must be two noise levels [low, high] between 0 and 1."
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InvalidInputError(
            f"guidance_interval=[{lo}, {hi}] must satisfy 0 <= low < high <= 1 (1 = pure noise)."
        )
    return lo, hi
