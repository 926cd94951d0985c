"""Request and response shapes of the video API: OpenAI's `/v1/videos` plus Kling-style extras.

Requests forbid unknown fields (a typo must not be silently ignored). Responses are pydantic models too
(`Video`, `VideoList`, `Error`, ...), so /openapi.json states what every route answers. `Video` is the shape
the official `openai` client parses into `openai.types.Video`, plus Kinema's extra keys (queue_position,
eta_seconds, priority, physics, webhook) which that client keeps as extra attributes; views.py builds it
from a job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from kinema.runtime.tasks import API_MODES

CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

# The API's modes (what `video.mode` shows), in the task table's order (kinema/runtime/tasks.py: each
# mode's row names its GenerationSpec task).
ApiMode = Literal[tuple(API_MODES)]  # type: ignore[valid-type]
MAX_URL_CHARS = 2048  # browsers' and CDNs' common limit
MAX_SHORT_CHARS = 200  # model names, sizes, aspect ratios, file ids
MAX_ID_CHARS = 64  # video ids (the jobs table's id column)


def _not_bool(value: Any) -> Any:
    # JSON true/false are not numbers here (pydantic would read `seconds: true` as 1 s; issue 15, item 13).
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
# A duration: "4" (OpenAI sends strings), 4 or 4.5.
Seconds = Annotated[str | float | int, BeforeValidator(_not_bool), Field(examples=["4"])]
Seed = Annotated[Int, Field(ge=0, le=2**63 - 1)]
CfgScale = Annotated[Float, Field(ge=0, le=30)]
# Kinema: guidance only while the noise level is in [low, high] (1 = pure noise), on models that list
# `guidance_interval` in their options; checked (0 <= low < high <= 1) by the spec's own rule.
GuidanceInterval = Annotated[
    list[Float],
    Field(
        min_length=2,
        max_length=2,
        description="[low, high]: guide only while the noise level is in it (1 = pure noise), e.g. [0, 0.9]",
    ),
]
Steps = Annotated[Int, Field(ge=1, le=200)]
Strength = Annotated[Float, Field(gt=0, le=1)]
# One limit per text field, the same on every route (issue 15, item 9). Prompts are limited by
# `ServeSettings.max_prompt_chars` (an operator's setting), checked in validation.check_texts.
CallbackUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_CHARS,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]",
        description="Webhook URL (http or https)",
    ),
]
ShortText = Annotated[str, Field(max_length=MAX_SHORT_CHARS)]
VideoId = Annotated[str, Field(max_length=MAX_ID_CHARS)]
# A prompt must say something: the server refuses an empty or blank one, so the schema says so too (issue 29,
# defect 9: schemathesis generated "" as schema-valid and got a 400). Its length limit is an operator's
# setting (`max_prompt_chars`, checked in validation.check_texts).
Prompt = Annotated[str, Field(min_length=1, pattern=r"\S", description="What the video shows")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _video_required_in_json(schema: dict[str, Any]) -> None:
    """A JSON body cannot carry a file, so there `video` must name a video (`{"id": ...}`): the schema says
    so (issue 29, defect 9: `{"prompt": "0"}` was schema-valid and a 400). A form uploads it instead."""
    schema.setdefault("required", []).append("video")
    video = schema["properties"]["video"]
    ref = next(v for v in video.pop("anyOf") if "$ref" in v)  # VideoRef, without its null branch
    video.pop("default", None)
    video.update(ref)


def _one_length(schema: dict[str, Any]) -> None:
    """`seconds` and Kling's `duration` mean the same; the server takes one (issue 29, defect 9)."""
    given = {"not": {"type": "null"}}
    schema["not"] = {"required": ["seconds", "duration"], "properties": {"seconds": given, "duration": given}}


class CameraConfig(Strict):
    """Kling's six camera axes, each in [-10, 10]."""

    horizontal: Float = Field(0.0, ge=-10, le=10)
    vertical: Float = Field(0.0, ge=-10, le=10)
    pan: Float = Field(0.0, ge=-10, le=10)
    tilt: Float = Field(0.0, ge=-10, le=10)
    roll: Float = Field(0.0, ge=-10, le=10)
    zoom: Float = Field(0.0, ge=-10, le=10)


class CameraControl(Strict):
    """Kling's camera_control: `simple` takes a config with exactly one non-zero axis; presets take none;
    Kinema's `custom` takes any mix of axes."""

    type: Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward", "custom"]
    config: CameraConfig | None = None


class TrajectoryPoint(Strict):
    """A point of a motion-brush path, in output pixels (Kling's {x, y})."""

    x: Float
    y: Float


class ReferenceObject(Strict):
    """OpenAI's JSON form of input_reference: a base64 data URL (file ids and remote URLs are not fetched)."""

    image_url: str | None = Field(None, description="data:image/png;base64,... (PNG, JPEG or WebP)")
    file_id: ShortText | None = None


class VideoRef(Strict):
    id: VideoId


class CharacterRef(Strict):
    """A character made with POST /v1/videos/characters, named in a create request."""

    id: VideoId


MAX_CHARACTERS = 4


class VideoCreateRequest(Strict):
    """POST /v1/videos: OpenAI's fields, Kling's extras, and Kinema's physics mode."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_length)

    prompt: Prompt
    model: ShortText | None = None
    seconds: Seconds | None = None
    size: ShortText | None = Field(None, examples=["1280x720"])
    input_reference: ReferenceObject | str | None = Field(
        None, description="The first frame: a base64 data URL (or upload the file in a multipart form)"
    )
    # Kinema / Kling extras
    negative_prompt: str | None = None
    cfg_scale: CfgScale | None = None
    guidance_interval: GuidanceInterval | None = None
    guide_trajectory: bool | None = None  # with a trajectory map: guide towards it too (None: the model's)
    num_inference_steps: Steps | None = None
    seed: Seed | None = None
    aspect_ratio: ShortText | None = Field(None, examples=["16:9"])
    fps: Int | None = Field(None, ge=1)
    mode: Literal["std", "pro"] | None = None
    duration: Seconds | None = None  # Kling's name for seconds
    image_tail: ReferenceObject | str | None = Field(
        None, description="The last frame (needs input_reference)"
    )
    camera_control: CameraControl | None = None
    trajectories: list[list[TrajectoryPoint]] | None = None
    callback_url: CallbackUrl | None = None
    strength: Strength | None = None
    # Kinema: the world simulator decides the motion, the model draws it; N candidates, the best kept.
    physics: Literal["simulate", "off"] | None = None
    physics_candidates: Int | None = Field(None, ge=1, le=16)
    # Sound (issue 28): true = the video must have sound (a 400 from a video-only model), false = none,
    # null = sound when the model makes it. vLLM-Omni names this `generate_sound`.
    audio: bool | None = Field(None, description="true: with sound (models that make it); false: without")
    # Kinema (issue 28): generate at half the size, upsample the latents x2, refine (the LTX families with a
    # latent upsampler: `upscale` in the model's options). The asked size is the final one.
    upscale: Literal[2] | None = Field(
        None,
        description="2: make the video at half size and upscale it x2 in latent space (models with `upscale`)",
    )
    # Kinema: characters (POST /v1/videos/characters) the video shows, given to models that take reference
    # pictures of a subject (Wan VACE's `reference_images`; GET /v1/config lists `characters` for them)
    characters: list[CharacterRef] | None = Field(None, max_length=MAX_CHARACTERS)


class VideoRemixRequest(Strict):
    """POST /v1/videos/{video_id}/remix: the same video, a new prompt."""

    prompt: Prompt
    negative_prompt: str | None = None
    cfg_scale: CfgScale | None = None
    guidance_interval: GuidanceInterval | None = None
    guide_trajectory: bool | None = None  # with a trajectory map: guide towards it too (None: the model's)
    num_inference_steps: Steps | None = None
    seed: Seed | None = None
    strength: Strength | None = None
    callback_url: CallbackUrl | None = None


class VideoExtendRequest(Strict):
    """POST /v1/videos/extensions: continue a completed video (`video: {"id": ...}`) or an uploaded MP4."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_video_required_in_json)

    prompt: Prompt
    video: VideoRef | None = None  # None: the video arrives as an uploaded file
    seconds: Seconds | None = None
    negative_prompt: str | None = None
    cfg_scale: CfgScale | None = None
    guidance_interval: GuidanceInterval | None = None
    guide_trajectory: bool | None = None  # with a trajectory map: guide towards it too (None: the model's)
    num_inference_steps: Steps | None = None
    seed: Seed | None = None
    callback_url: CallbackUrl | None = None


class VideoEditRequest(Strict):
    """POST /v1/videos/edits (OpenAI's `client.videos.edit`): video → video from a completed video
    (`video: {"id": ...}`) or an uploaded MP4 (`video` as a file), on a model that can (`remix` mode)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_video_required_in_json)

    prompt: Prompt
    video: VideoRef | None = None  # None: the video arrives as an uploaded file
    model: ShortText | None = Field(None, description="An uploaded video's model; an id's is its own")
    negative_prompt: str | None = None
    cfg_scale: CfgScale | None = None
    guidance_interval: GuidanceInterval | None = None
    guide_trajectory: bool | None = None  # with a trajectory map: guide towards it too (None: the model's)
    num_inference_steps: Steps | None = None
    seed: Seed | None = None
    strength: Strength | None = None
    callback_url: CallbackUrl | None = None


class CharacterCreateRequest(Strict):
    """POST /v1/videos/characters (OpenAI's `client.videos.create_character`): a name and a video of the
    subject (uploaded as the `video` file)."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_SHORT_CHARS, pattern=r"\S")]


# ---- responses ---------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str = Field(description="What was wrong and what to do, in one sentence")
    type: str = Field(examples=["invalid_request_error", "rate_limit_error"])
    param: str | None = Field(None, description="The request field at fault")
    code: str | None = None


class Error(BaseModel):
    """Every error: OpenAI's shape."""

    error: ErrorDetail


class VideoError(BaseModel):
    code: str
    message: str


class WebhookState(BaseModel):
    """Kinema: how the deliveries to `callback_url` are going (the latest event's)."""

    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None = None


class Video(BaseModel):
    """OpenAI's video object plus Kinema's extras (the `openai` client keeps them as extra attributes)."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(ge=0, le=100)
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str
    size: str
    prompt: str
    error: VideoError | None = None
    remixed_from_video_id: str | None = None
    extended_from_video_id: str | None = None
    mode: ApiMode
    priority: int
    queue_position: int | None = Field(None, description="1 = next to start; null unless queued")
    eta_seconds: float | None = None
    physics: bool = False
    has_audio: bool = Field(False, description="The video file has a sound track (AAC)")
    webhook: WebhookState | None = None


class CharacterObject(BaseModel):
    """A character: what `create_character` and `get_character` answer (OpenAI's shape), plus the size of
    the reference picture cut from its video."""

    id: str
    object: Literal["character"] = "character"
    created_at: int
    name: str
    width: int
    height: int


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class ProvenanceIngredient(BaseModel):
    title: str
    relationship: str


class Provenance(BaseModel):
    """A video's content credential (GB 45438's implicit AIGC label and its C2PA manifest)."""

    id: str
    object: Literal["video.provenance"] = "video.provenance"
    aigc_label: dict[str, str] | None
    has_manifest: bool
    validation_state: Literal["Invalid", "Valid", "Trusted"] | None
    signature_valid: bool
    trusted: bool
    digital_source_type: str | None
    generator: str | None
    model: str | None
    signer: str | None
    actions: list[str | None]
    ingredients: list[ProvenanceIngredient]
    failures: list[str]


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    width: int
    height: int
    fps: float
    num_frames: int
    max_frames: int
    modes: list[str]
    options: list[str]
    default: bool
    source: str | None = Field(
        default=None, description="The folder or Hugging Face Hub id (org/name[@revision]) it was listed as"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Its load settings from the serve models file (dtype, offload, cache, loras, ...)",
    )
    audio: bool = Field(False, description="The model makes sound with its videos")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ModeCapabilities(BaseModel):
    """One API mode a model can do: its row of the task table, the route that asks for it, and the fields
    of that route's body the model and the task honour (kinema/serving/capabilities.py)."""

    mode: ApiMode
    task: str = Field(description="The GenerationSpec task (t2v, i2v, ...)")
    title: str = Field(examples=["text → video"])
    given: list[str] = Field(description="The pictures it starts from: image, last_image, video")
    path: str = Field(examples=["/v1/videos"])
    params: list[str] = Field(description="The request fields that can work for it on this model")


class ModelCapabilities(BaseModel):
    """What a model can be asked (a studio builds its form from this)."""

    id: str
    default: bool
    modes: list[ModeCapabilities]
    physics: bool = Field(description='Some mode takes `physics: "simulate"`')
    camera_control: bool
    trajectories: bool
    audio: bool = Field(False, description="Its videos have sound (the `audio` field)")


class ServerConfig(BaseModel):
    """What the studio needs before it has a key."""

    auth_required: bool
    max_prompt_chars: int
    max_seconds: float
    default_model: str | None = None
    models: list[ModelCapabilities] = Field(default_factory=list)


class Health(BaseModel):
    ok: bool
    models: list[str]
