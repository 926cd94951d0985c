"""A job's generation as the queue carries it: the plain part of `GenerationSpec` (built and checked once,
by the API, with the spec's own validators) and the job's input files by name.

It is stored as the JSON of the jobs table's `params` column in the flat shape earlier versions wrote (the
spec's fields in its own names, beside `image`, `last_image`, `source_video`, `source_video_id` and
`total_frames`), so their rows load unchanged. The task and the prompt are columns of their own; the worker
loads the job back typed with `JobSpec.load` and attaches the files, output and callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from kinema.backends.base import GenerationSpec
from kinema.runtime.tasks import api_task


class StoredJob(Protocol):
    """What `load` reads of a job row (`job_store.Job`)."""

    task: str
    prompt: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class JobSpec:
    generation: GenerationSpec  # plain data only: no files, output or callback yet
    image: str | None = None  # the first frame, a file of the job's inputs
    last_image: str | None = None  # the last frame (keyframes)
    source_video: str | None = None  # an uploaded MP4 to extend, a file of the job's inputs
    source_video_id: str | None = None  # a completed video of this server to extend or remix
    total_frames: int | None = None  # extend: the video's length once extended
    reference_images: list[str] | None = None  # characters' pictures, files of the job's inputs

    def params(self) -> dict[str, Any]:
        """The `params` column's JSON value."""
        plain = self.generation.plain()
        plain.pop("task", None), plain.pop("prompt", None)  # columns of their own
        files = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "generation"}
        return {**plain, **{k: v for k, v in files.items() if v is not None}}

    @classmethod
    def load(cls, job: StoredJob) -> JobSpec:
        """A stored job, typed again: its task (the API's mode in the jobs table) in the spec's name, its
        prompt, its params."""
        params = dict(job.params)
        files = {f.name: params.pop(f.name, None) for f in fields(cls) if f.name != "generation"}
        generation = GenerationSpec.from_plain(params, task=api_task(job.task).name, prompt=job.prompt)
        return cls(generation, **files)

    @property
    def length(self) -> int:
        """The frames of the finished video (what a remix or a further extension starts from)."""
        return self.total_frames or self.generation.num_frames or 0
