"""Request and response shapes of the video API: OpenAI's `/v1/videos` plus Kling-style extras.

Requests forbid unknown fields (a typo must not be silently ignored). Responses are plain dicts built by
`video_object`, the shape the official `openai` client parses into `openai.types.Video`, plus Kinema's
extra keys (queue_position, eta_seconds, priority) which that client keeps as extra attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from kinema.serving.store import Job

CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")


# The API's modes (what `video.mode` shows) → GenerationSpec tasks: the one place the names change.
API_TASKS: dict[str, str] = {
    "text": "t2v",
    "image": "i2v",
    "keyframes": "keyframes",
    "extend": "extend",
    "remix": "v2v",
}
# Job parameters stored in GenerationSpec's vocabulary (service.py maps the API's field names onto them
# once, e.g. Kling's `cfg_scale` → `guidance_scale`); the worker passes them to the spec as they are.
SPEC_PARAMS: tuple[str, ...] = (
    "width",
    "height",
    "num_frames",
    "fps",
    "negative_prompt",
    "guidance_scale",
    "num_inference_steps",
    "seed",
    "strength",
    "camera_control",
    "trajectories",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraConfig(Strict):
    """Kling's six camera axes, each in [-10, 10]."""

    horizontal: float = Field(0.0, ge=-10, le=10)
    vertical: float = Field(0.0, ge=-10, le=10)
    pan: float = Field(0.0, ge=-10, le=10)
    tilt: float = Field(0.0, ge=-10, le=10)
    roll: float = Field(0.0, ge=-10, le=10)
    zoom: float = Field(0.0, ge=-10, le=10)


class CameraControl(Strict):
    """Kling's camera_control: `simple` takes a config with exactly one non-zero axis; presets take none;
    Kinema's `custom` takes any mix of axes."""

    type: Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward", "custom"]
    config: CameraConfig | None = None


class TrajectoryPoint(Strict):
    """A point of a motion-brush path, in output pixels (Kling's {x, y})."""

    x: float
    y: float


class ReferenceObject(Strict):
    """OpenAI's JSON form of input_reference: a base64 data URL (file ids and remote URLs are not fetched)."""

    image_url: str | None = None
    file_id: str | None = None


class VideoRef(Strict):
    id: str


class VideoCreateRequest(Strict):
    prompt: str
    model: str | None = None
    seconds: str | float | int | None = None
    size: str | None = None
    input_reference: ReferenceObject | str | None = None
    # Kinema / Kling extras
    negative_prompt: str | None = None
    cfg_scale: float | None = Field(None, ge=0, le=30)
    num_inference_steps: int | None = Field(None, ge=1, le=200)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    aspect_ratio: str | None = None
    fps: int | None = Field(None, ge=1)
    mode: Literal["std", "pro"] | None = None
    duration: str | float | int | None = None  # Kling's name for seconds
    image_tail: ReferenceObject | str | None = None
    camera_control: CameraControl | None = None
    trajectories: list[list[TrajectoryPoint]] | None = None
    callback_url: str | None = None
    strength: float | None = Field(None, gt=0, le=1)


class VideoRemixRequest(Strict):
    prompt: str
    negative_prompt: str | None = None
    cfg_scale: float | None = Field(None, ge=0, le=30)
    num_inference_steps: int | None = Field(None, ge=1, le=200)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    strength: float | None = Field(None, gt=0, le=1)
    callback_url: str | None = None


class VideoExtendRequest(Strict):
    prompt: str
    video: VideoRef | None = None  # None: the video arrives as an uploaded file
    seconds: str | float | int | None = None
    negative_prompt: str | None = None
    cfg_scale: float | None = Field(None, ge=0, le=30)
    num_inference_steps: int | None = Field(None, ge=1, le=200)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    callback_url: str | None = None


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def video_object(
    job: Job, queue_position: int | None = None, eta_seconds: float | None = None
) -> dict[str, Any]:
    """The public form of a job (an `openai.types.Video` plus Kinema's extras)."""
    status = job.status if job.status in ("queued", "in_progress", "completed", "failed") else "failed"
    error = None
    if job.status == "failed":
        error = {
            "code": job.error_code or "generation_failed",
            "message": job.error_message or "generation failed",
        }
    return {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": status,
        "progress": int(job.progress),
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "expires_at": int(job.expires_at) if job.expires_at else None,
        "seconds": job.seconds,
        "size": job.size,
        "prompt": job.prompt,
        "error": error,
        "remixed_from_video_id": job.remixed_from_video_id,
        "extended_from_video_id": job.extended_from_video_id,
        "mode": job.task,
        "priority": job.priority,
        "queue_position": queue_position,
        "eta_seconds": None if eta_seconds is None else round(eta_seconds, 1),
    }
