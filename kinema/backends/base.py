"""The one seam between callers (CLI, server worker, evaluators, benchmarks) and models.

A caller builds one `GenerationSpec` — the same vocabulary from `kinema generate`, from `POST /v1/videos`
(the serving layer maps the API's Kling/OpenAI field names onto it once) and from `kinema eval` — and calls
`backend.generate(spec)`. A backend says what it can do as class data (`modes`, `options`) and its model
folder's facts (native size, fps, frames, limits) through `capabilities`; a mode or option it lacks is an
`InvalidInputError` that names what it has. Where the frames go is part of the spec: an output file (MP4,
streamed and atomic, with the AIGC label; PNG/JPEG for text→image), a caller's frame sink, or memory.

A new model family is one file: a `VideoBackend` subclass with `modes`, `options` and `run(spec, output)`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kinema.errors import InvalidInputError
from kinema.pipelines.sizes import SizeRules
from kinema.runtime.output import FrameOutput, GenerationResult, Signature
from kinema.runtime.progress import ProgressCallback
from kinema.runtime.request import check_guidance_interval
from kinema.runtime.tasks import IMAGE_SUFFIXES, TASK_NAMES, VIDEO_SUFFIXES
from kinema.runtime.tasks import TASKS as TASK_ROWS

Task = Literal[TASK_NAMES]  # type: ignore[valid-type]  # the table's names: Literal[("t2v", ...)] flattens
TASKS: tuple[str, ...] = TASK_NAMES


class FrameSink(Protocol):
    """Anything with `write(uint8 (n, H, W, 3))`: a `VideoWriter`, a list collector, a network stream."""

    def write(self, frames: np.ndarray) -> None: ...


class GenerationSpec(BaseModel):
    """One generation request, every mode, one name per idea. `None` = the model's default (read from its
    folder's kinema.json, never restated here)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=False)

    task: Task = "t2v"
    prompt: str = ""
    negative_prompt: str | None = None
    # size and length: an aspect preset or width × height; frames (1 + 4k) or seconds. For `extend`,
    # num_frames / seconds are what to add.
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    num_frames: int | None = None
    seconds: float | None = None
    fps: float | None = None
    # sampling
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    # noise levels (sigma, 1 = pure noise) where guidance applies; None = the model's (kinema.json)
    guidance_interval: tuple[float, float] | None = None
    sampler: str | None = None
    seed: int = 0
    # given pictures: a path, bytes, PIL image or uint8 (H, W, 3); keyframes as (seconds, image)
    image: Any = None
    last_image: Any = None
    keyframes: list[tuple[float, Any]] = Field(default_factory=list)
    # pictures of a subject (a character) the video should show, not frames of it: Wan VACE's
    # `reference_images`; a model that cannot take them refuses the option
    reference_images: list[Any] = Field(default_factory=list)
    # a source video (MP4 path or uint8 (T, H, W, 3)) for extend / v2v
    video: Any = None
    strength: float | None = None  # v2v: how much to change, (0, 1]
    include_source: bool = True  # extend: the result starts with the source video
    crossfade_frames: int = 0  # extend: frames faded across each chunk seam
    # motion
    camera_control: Mapping[str, Any] | None = None  # Kling's {"type": ..., "config": {axis: value}}
    trajectories: Any = None  # motion-brush paths: TrajectoryPath list, tracks (K, T, 3), JSON text / file
    # with a trajectory map (physics mode, motion brush): guide towards the map as well as the prompt (the
    # unguided half gets no map); None = the model's (kinema.json)
    guide_trajectory: bool | None = None
    # physics-grounded generation: the world simulator decides the motion (from the prompt, and the given
    # frames' objects), the model draws it; N candidates, the one that follows the simulation best is kept
    physics: bool = False
    physics_candidates: int = Field(default=1, ge=1, le=16)
    # sound (issue 28): True = the result must have sound (a video-only model refuses), False = none,
    # None = the model's way (sound if it makes it; an extension keeps its source's sound either way)
    audio: bool | None = None
    # generate at 1/upscale of the size, upsample in latent space and refine (models with a latent upsampler)
    upscale: int | None = Field(default=None, ge=2, le=2)
    # where the frames go (at most one of output_path / sink; neither = returned in memory)
    output_path: Path | None = None
    sink: Any = None  # a FrameSink
    label: Any = "default"  # AIGC label of a written file: "default", an AIGCLabel, or None for none
    # provenance of a written file: GB 45438's visible mark (a kinema.io.VisibleLabel) burned into the frames
    # as they stream, and a C2PA manifest signed with this identity (kinema.io.SigningIdentity) at the end,
    # naming the input files (default: the image / last image / video given as paths) as ingredients
    visible_label: Any = None
    signing: Any = None
    ingredients: list[Path] | None = None
    callback: ProgressCallback | None = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _no_none_prompt(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("guidance_interval")
    @classmethod
    def _an_interval_of_noise_levels(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if value is None else check_guidance_interval(value)  # an InvalidInputError is a ValueError

    @field_validator("upscale", mode="before")
    @classmethod
    def _one_is_no_upscale(cls, value: Any) -> Any:
        return None if value == 1 else value

    @classmethod
    def parse(cls, **fields: Any) -> GenerationSpec:
        """Build a spec, turning pydantic's errors into one `InvalidInputError` that names the field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, cls)) from None

    def plain(self) -> dict[str, Any]:
        """The spec's plain data (every field but `ATTACHED`) that differs from its default, JSON-ready:
        what a job queue stores. `from_plain` reads it back."""
        return self.model_dump(mode="json", exclude=set(ATTACHED), exclude_defaults=True)

    @classmethod
    def from_plain(cls, data: Mapping[str, Any], **attached: Any) -> GenerationSpec:
        """A spec from `plain()`'s dict (a None value = the field's default) and what the running process
        attaches (`ATTACHED`: given pictures and videos, output, labels, callback), checked as `parse` does."""
        return cls.parse(**{k: v for k, v in data.items() if v is not None}, **attached)

    def given(self) -> set[str]:
        """Names of the optional inputs this spec sets (what a backend must honour or refuse)."""
        defaults = _optional_defaults(type(self))
        out = set()
        for name in OPTIONAL_INPUTS:
            value, default = getattr(self, name), defaults[name]
            if _is_set(value) and not (isinstance(value, (int, float, str)) and value == default):
                out.add(name)
        return out


@functools.cache
def _optional_defaults(cls: type[BaseModel]) -> dict[str, Any]:
    """The defaults of `OPTIONAL_INPUTS`, read once per class: pydantic's `get_default` inspects the default
    factory's signature on every call (AST parsing, ~200 KB of garbage each), and `given()` runs per job."""
    return {n: cls.model_fields[n].get_default(call_default_factory=True) for n in OPTIONAL_INPUTS}


def _is_set(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, (list, tuple, dict, str)):
        return len(value) > 0
    return True


# Fields that are not plain data: what the process running a spec attaches (the given pictures and
# videos, where the frames go, labels, signing, the progress callback). The rest is what a job queue stores
# (`GenerationSpec.plain`).
ATTACHED: tuple[str, ...] = (
    "image",
    "last_image",
    "keyframes",
    "reference_images",
    "video",
    "output_path",
    "sink",
    "label",
    "visible_label",
    "signing",
    "ingredients",
    "callback",
)

# Inputs a backend may or may not honour (the rest every backend takes: task, prompt, size, length, seed,
# steps, guidance, output, callback).
OPTIONAL_INPUTS: tuple[str, ...] = (
    "negative_prompt",
    "aspect_ratio",
    "sampler",
    "guidance_interval",
    "keyframes",
    "reference_images",
    "strength",
    "crossfade_frames",
    "camera_control",
    "trajectories",
    "guide_trajectory",
    "physics",
    "physics_candidates",
    "upscale",
)


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    err = exc.errors()[0]
    name = ".".join(str(p) for p in err.get("loc", ())) or "request"
    if err.get("type") == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"Unknown option {name!r}; known options: {known}."
    return f"Option {name!r}: {err.get('msg', 'invalid value')}; fix it and retry."


@dataclass(frozen=True)
class ModelFacts:
    """A model folder's facts, read without torch (the server's API process validates requests with them):
    its backend's modes and options (class data) and the folder's native size, fps, frames and limits."""

    name: str
    path: Path
    backend: str
    modes: tuple[str, ...]
    options: tuple[str, ...]
    width: int
    height: int
    fps: float
    num_frames: int
    max_frames: int
    max_pixels: int | None = None  # None = 4 x the native area (sizes.SizeRules)
    size_multiple: int = 16
    temporal_compression: int = 4
    num_inference_steps: int = 30
    audio: bool = False  # the model makes sound with its frames (class data `makes_audio`)
    created_at: int = 0
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def rules(self) -> SizeRules:
        return SizeRules(
            native_width=self.width,
            native_height=self.height,
            native_frames=self.num_frames,
            max_frames=self.max_frames,
            multiple=self.size_multiple,
            temporal_compression=self.temporal_compression,
            max_pixels=self.max_pixels,
        )

    @property
    def native_seconds(self) -> float:
        return (self.num_frames - 1) / self.fps if self.num_frames > 1 else 1.0 / self.fps

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "modes": list(self.modes),
            "options": list(self.options),
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "max_frames": self.max_frames,
            "audio": self.audio,
        }


class Output(FrameOutput):
    """Where a spec's frames go (`kinema.runtime.output.FrameOutput`): its output file (labelled, and
    signed when the spec gives a signing identity), its sink, or memory."""

    def __init__(self, spec: GenerationSpec, fps: float, model: str | None = None) -> None:
        super().__init__(
            fps,
            spec.output_path,
            spec.sink,
            label=spec.label,
            visible_label=spec.visible_label,
            signature=signature(spec, model),
        )
        self.spec, self.model = spec, model


def signature(spec: GenerationSpec, model: str | None = None) -> Signature | None:
    """The C2PA signature of a spec's output file: what made it (the task), the model, and the input
    files (default: the image / last image / video given as paths)."""
    if spec.signing is None:
        return None
    ingredients = spec.ingredients
    if ingredients is None:
        given = (spec.image, spec.last_image, spec.video)
        ingredients = [Path(g) for g in given if isinstance(g, (str, Path)) and Path(g).is_file()]
    task = TASK_ROWS[spec.task].sign_as(spec.include_source)
    return Signature(spec.signing, task, model, tuple(ingredients))


def wants_audio(spec: GenerationSpec, makes_audio: bool) -> bool:
    """Whether a sound-making model's result has sound: unless asked not to (audio=False), and never for a
    still image."""
    return makes_audio and spec.audio is not False and TASK_ROWS[spec.task].output == "video"


def source_sound(spec: GenerationSpec) -> tuple[np.ndarray, int] | None:
    """The sound of an extension's or remix's source video file: (float32 (C, n), rate), or None."""
    if not TASK_ROWS[spec.task].takes_video or not isinstance(spec.video, (str, Path)):
        return None
    from kinema.io import read_audio

    return read_audio(spec.video)


def source_sound_kept(spec: GenerationSpec) -> bool:
    """Whether an extension keeps sound from its source file (its frames included and it has a track): a
    video-only model's result then has sound too."""
    if not (TASK_ROWS[spec.task].adds_length and spec.include_source and isinstance(spec.video, (str, Path))):
        return False
    from kinema.io import probe_audio

    return Path(spec.video).is_file() and probe_audio(spec.video) is not None


def keep_source_sound(spec: GenerationSpec, output: Output) -> None:
    """A video-only model extending a video with sound keeps that sound (never dropped silently): the
    source's sound goes first, and the output pads the added part with silence. audio=False drops it."""
    if spec.audio is False or not TASK_ROWS[spec.task].adds_length or not spec.include_source:
        return
    sound = source_sound(spec)
    if sound is not None:
        output.write_audio(*sound)
        output.info["audio"] = (
            "the source's sound is kept; the added part is silent (this model makes no sound)"
        )


class VideoBackend:
    """Base of every backend: checks a spec against the class's capabilities, routes output, and leaves
    the generation itself to `run`."""

    name: ClassVar[str] = "base"
    modes: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[str, ...]] = ()  # which of OPTIONAL_INPUTS it honours
    makes_audio: ClassVar[bool] = False  # generates sound with the frames (`run` calls output.write_audio)

    facts: ModelFacts

    @property
    def model_name(self) -> str:
        return self.facts.name

    def check(self, spec: GenerationSpec) -> None:
        """InvalidInputError unless this backend can honour every part of `spec`."""
        if spec.task not in self.modes:
            raise InvalidInputError(
                f"Model {self.model_name!r} cannot do {spec.task}; it does: {', '.join(self.modes)}."
            )
        unsupported = sorted(spec.given() - set(self.options))
        if unsupported:
            raise InvalidInputError(
                f"Model {self.model_name!r} does not support {', '.join(unsupported)}; "
                f"it supports: {', '.join(self.options) or 'none of the optional inputs'}."
            )
        if spec.audio and TASK_ROWS[spec.task].output == "image":
            raise InvalidInputError(f"{TASK_ROWS[spec.task].title} makes a still image, which has no sound.")
        if spec.audio and not self.facts.audio and source_sound_kept(spec) is False:
            raise InvalidInputError(
                f"Model {self.model_name!r} makes video without sound; drop --audio (audio: true) or use a "
                "model that makes sound, such as LTX-2."
            )
        if spec.output_path is not None and spec.sink is not None:
            raise InvalidInputError("Give the frames one destination: output_path or sink, not both.")
        suffix = Path(spec.output_path).suffix.lower() if spec.output_path is not None else None
        if suffix in IMAGE_SUFFIXES and TASK_ROWS[spec.task].output != "image":
            raise InvalidInputError(
                f"{Path(spec.output_path).name} is an image file: only text → image writes images; "
                "use an .mp4 output for video modes."
            )
        if suffix is not None and suffix not in IMAGE_SUFFIXES and suffix not in VIDEO_SUFFIXES:
            raise InvalidInputError(
                f"Cannot write {Path(spec.output_path).name}: use an .mp4 (video) or .png/.jpg (image) output."
            )

    # ---- generation --------------------------------------------------------------------------------
    def generate(self, spec: GenerationSpec) -> GenerationResult:
        """Check the spec, run it, and deliver the frames where the spec says."""
        self.check(spec)
        output = Output(spec, self.output_fps(spec), self.model_name)
        try:
            if not self.facts.audio:
                keep_source_sound(spec, output)
            self.run(spec, output)
            return output.close()
        except BaseException:
            output.abort()
            raise

    def output_fps(self, spec: GenerationSpec) -> float:
        """The frame rate of the result: asked, else the source video's, else the model's."""
        if spec.fps:
            return float(spec.fps)
        if TASK_ROWS[spec.task].size_from == "video" and isinstance(spec.video, (str, Path)):
            from kinema.io import probe_video

            fps = probe_video(spec.video).fps
            if fps:
                return float(fps)
        return float(self.facts.fps)

    def run(self, spec: GenerationSpec, output: Output) -> None:
        """Generate and `output.write` the frames in order (batch 1)."""
        raise NotImplementedError
