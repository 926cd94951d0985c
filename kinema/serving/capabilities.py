"""What each model can be asked, as `/v1/config` reports it for the studio: the task table's rows the model
does (kinema/runtime/tasks.py), each with the route that asks for it and the request fields that route takes
which the model and the task honour — so a form shows a control only where it can work.

A field is dropped when it is an optional input the model's backend does not list (`ModelFacts.options`:
physics, camera control, trajectories, negative prompt, ...), a picture the task is not given, an option of
another task (the table's `options`: strength is remix's), a length, camera or trajectory of a task without
motion (the table's `motion`), or physics mode for a task it cannot start (the table's `physics`).
"""

from __future__ import annotations

from kinema.backends.base import OPTIONAL_INPUTS
from kinema.runtime.tasks import API_MODES, NO_MOTION, TASK_TABLE, Task
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.schemas import (
    ModeCapabilities,
    ModelCapabilities,
    Strict,
    VideoCreateRequest,
    VideoExtendRequest,
    VideoRemixRequest,
)
from kinema.serving.validation import PICTURES

# The request fields that carry a given picture (API name → GenerationSpec name): the create route's
# uploads, and the extend route's video.
PICTURE_FIELDS: dict[str, str] = {**PICTURES, "video": "video"}
# Request fields named otherwise than the optional input they carry (API name → GenerationSpec name).
OPTION_FIELDS: dict[str, str] = {"characters": "reference_images"}
# What the length is called besides NO_MOTION's names (Kling's `duration`).
LENGTH_FIELDS = ("duration",)
PHYSICS_FIELDS = ("physics", "physics_candidates")
# The fields only some tasks read (the table's `options`: strength, keyframes, ...).
TASK_OPTIONS = frozenset(o for t in TASK_TABLE for o in t.options)


def route(task: Task) -> tuple[str, type[Strict]]:
    """The route that asks for a task, and its body: a finished video's tasks have routes of their own."""
    if not task.takes_video:
        return "/v1/videos", VideoCreateRequest
    if task.adds_length:
        return "/v1/videos/extensions", VideoExtendRequest
    return "/v1/videos/{video_id}/remix", VideoRemixRequest


def honoured(field: str, task: Task, model: ModelInfo) -> bool:
    """Whether a request field can work for this task on this model (the module's docstring)."""
    option = OPTION_FIELDS.get(field, field)
    if option in OPTIONAL_INPUTS and option not in model.options:
        return False
    if field in PICTURE_FIELDS and PICTURE_FIELDS[field] not in task.given:
        return False
    if field in TASK_OPTIONS and field not in task.options:
        return False
    if not task.motion and (field in NO_MOTION or field in LENGTH_FIELDS):
        return False
    if field == "audio" and not model.audio:  # a video-only model: `audio: true` is a 400
        return False
    return task.physics or field not in PHYSICS_FIELDS


def mode_capabilities(task: Task, model: ModelInfo) -> ModeCapabilities:
    path, body = route(task)
    return ModeCapabilities(
        mode=str(task.api_mode),
        task=task.name,
        title=task.title,
        given=list(task.given),
        path=path,
        params=[f for f in body.model_fields if honoured(f, task, model)],
    )


def model_capabilities(model: ModelInfo, default: bool = False) -> ModelCapabilities:
    """A model's API modes (the rows of the task table it does), each with what it takes."""
    modes = [mode_capabilities(t, model) for t in API_MODES.values() if t.name in model.modes]
    offered = {p for m in modes for p in m.params}
    return ModelCapabilities(
        id=model.name,
        default=default,
        modes=modes,
        physics="physics" in offered,
        camera_control="camera_control" in offered,
        trajectories="trajectories" in offered,
        audio=model.audio,
    )


def capabilities(registry: ModelRegistry) -> list[ModelCapabilities]:
    return [model_capabilities(m, m.name == registry.default) for m in registry.models.values()]
