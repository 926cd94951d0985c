"""The tasks, as data: one row per task, read by the backends, the pipelines' loader, the CLI and the server
(its API modes, the task a create request's pictures make, what /v1/config says a model can be asked),
instead of task names compared in each of them.

| task        | API mode    | given, options                | motion | output | size from | length    | C2PA      |
|-------------|-------------|-------------------------------|--------|--------|-----------|-----------|-----------|
| `t2v`       | `text`      | prompt                        | yes    | video  | —         | made      | text      |
| `t2i`       | —           | prompt                        | no     | image  | —         | one frame | text      |
| `i2v`       | `image`     | image                         | yes    | video  | image     | made      | image     |
| `keyframes` | `keyframes` | image, last_image; keyframes  | yes    | video  | image     | made      | keyframes |
| `extend`    | `extend`    | video; include_source, fade   | yes    | video  | video     | added     | extend    |
| `v2v`       | `remix`     | video; strength               | yes    | video  | video     | made      | remix     |

Physics mode starts t2v, i2v and extend.

"motion" is the rule "an image output takes no motion": a task without it takes no length
(`num_frames`, `seconds`) and no camera or trajectories (`NO_MOTION`). An extension's `num_frames` /
`seconds` are what to add, not the length of one generation. An extension written without its source's
frames is signed as a `continuation` (kinema/io/provenance.py). Torch-free: the server's API process
validates with it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from kinema.errors import InvalidInputError

# The files each output kind is written to (kinema.runtime.output).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".m4v", ".mov")
# What a task without motion (a still image) cannot take.
NO_MOTION: tuple[str, ...] = ("num_frames", "seconds", "camera_control", "trajectories")


@dataclass(frozen=True)
class Task:
    """One task: its names, what it is given, and what it makes."""

    name: str  # GenerationSpec.task and the pipelines' task (kinema.pipelines.loading)
    api_mode: str | None  # the API's `mode` (POST /v1/videos and friends); None: not offered over the API
    title: str  # for messages: "text → video"
    given: tuple[str, ...] = ()  # the pictures it is given (GenerationSpec fields), in the pipelines' order
    options: tuple[str, ...] = ()  # the GenerationSpec fields only this task reads
    motion: bool = True  # takes a length, camera_control and trajectories (False: a still image, NO_MOTION)
    output: Literal["video", "image"] = "video"
    size_from: Literal["image", "video"] | None = None  # the given picture whose size (and fps) it keeps
    adds_length: bool = False  # num_frames / seconds say how much to add; made chunk by chunk, streamed
    requires_prompt: bool = True  # without a picture to start from, the prompt is all there is
    physics: bool = False  # physics mode can start it (from text, or from given frames)
    provenance: str = "text"  # the C2PA manifest's task (kinema.io.provenance.TASKS)

    @property
    def takes_image(self) -> bool:
        return "image" in self.given

    @property
    def takes_video(self) -> bool:
        return "video" in self.given

    @property
    def takes_keyframes(self) -> bool:
        return "keyframes" in self.options

    def sign_as(self, include_source: bool = True) -> str:
        """The C2PA task of its output: an extension without its source's frames is a continuation."""
        return "continuation" if self.adds_length and not include_source else self.provenance


TASK_TABLE: tuple[Task, ...] = (
    Task("t2v", "text", "text → video", physics=True),
    Task("t2i", None, "text → image", motion=False, output="image"),
    Task(
        "i2v",
        "image",
        "image → video",
        given=("image",),
        size_from="image",
        requires_prompt=False,
        physics=True,
        provenance="image",
    ),
    Task(
        "keyframes",
        "keyframes",
        "keyframes → video",
        given=("image", "last_image"),
        options=("keyframes",),
        size_from="image",
        requires_prompt=False,
        provenance="keyframes",
    ),
    Task(
        "extend",
        "extend",
        "extension",
        given=("video",),
        options=("include_source", "crossfade_frames"),
        size_from="video",
        adds_length=True,
        requires_prompt=False,
        physics=True,
        provenance="extend",
    ),
    Task(
        "v2v",
        "remix",
        "video → video",
        given=("video",),
        options=("strength",),
        size_from="video",
        provenance="remix",
    ),
)
TASKS: dict[str, Task] = {t.name: t for t in TASK_TABLE}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
# The API's modes → tasks (kinema/serving reads them here: the modes a `Video` shows, the jobs' task column).
API_MODES: dict[str, Task] = {t.api_mode: t for t in TASK_TABLE if t.api_mode is not None}


def task(name: str) -> Task:
    """The row of a task name; InvalidInputError naming the known ones."""
    row = TASKS.get(name)
    if row is None:
        raise InvalidInputError(f"Unknown task {name!r}; use one of {', '.join(TASKS)}.")
    return row


def api_task(mode: str) -> Task:
    """The row of an API mode (text, image, keyframes, extend, remix)."""
    row = API_MODES.get(mode)
    if row is None:
        raise InvalidInputError(f"Unknown mode {mode!r}; use one of {', '.join(API_MODES)}.")
    return row


def api_task_given(pictures: Collection[str]) -> Task:
    """The API task made from these given pictures (GenerationSpec names): of the rows given them all, the
    one given fewest — none: text; a first frame: image; a last frame as well: keyframes."""
    rows = [t for t in API_MODES.values() if set(pictures) <= set(t.given)]
    if not rows:
        raise InvalidInputError(f"No task is given {', '.join(sorted(pictures))} together.")
    return min(rows, key=lambda t: len(t.given))  # the table's order breaks a tie
