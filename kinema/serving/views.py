"""Jobs as the API shows them: the `Video` object (OpenAI's `openai.types.Video` plus Kinema's extras), built
in this one place for the routes, the event stream and the webhook bodies."""

from __future__ import annotations

import time
from typing import Any

from kinema.serving.job_spec import JobSpec
from kinema.serving.job_store import Job
from kinema.serving.schemas import Video, VideoError, WebhookState


def shown_status(job: Job, now: float | None = None) -> str:
    """The status a client sees. A running job whose lease expired has lost its worker: it is queued
    again (the next claim's sweep requeues it, or fails it after its last attempt), so it shows as queued
    rather than frozen at its dead worker's progress (issue 15, item 6). Cancelled jobs are never shown."""
    if job.status == "in_progress" and job.lease_expires_at is not None:
        if job.lease_expires_at < (time.time() if now is None else now):
            return "queued"
    return job.status if job.status in ("queued", "in_progress", "completed", "failed") else "failed"


def video_view(
    job: Job,
    queue_position: int | None = None,
    eta_seconds: float | None = None,
    webhook: WebhookState | None = None,
    now: float | None = None,
) -> Video:
    """The public form of a job at `now` (default: the present)."""
    status = shown_status(job, now)
    error = None
    progress = int(job.progress)
    if status == "failed":
        error = VideoError(
            code=job.error_code or "generation_failed", message=job.error_message or "generation failed"
        )
        progress = 0  # nothing of a failed job is usable: its bar does not stay where it broke
    elif status == "queued":
        progress = 0
    return Video(
        id=job.id,
        model=job.model,
        status=status,  # type: ignore[arg-type]
        progress=progress,
        created_at=int(job.created_at),
        completed_at=int(job.completed_at) if job.completed_at else None,
        expires_at=int(job.expires_at) if job.expires_at else None,
        seconds=job.seconds,
        size=job.size,
        prompt=job.prompt,
        error=error,
        remixed_from_video_id=job.remixed_from_video_id,
        extended_from_video_id=job.extended_from_video_id,
        mode=job.task,  # type: ignore[arg-type]
        priority=job.priority,
        queue_position=queue_position,
        eta_seconds=None if eta_seconds is None else round(eta_seconds, 1),
        physics=JobSpec.load(job).generation.physics,
        has_audio=JobSpec.load(job).generation.audio is True,  # resolved when the job was created
        webhook=webhook,
    )


def webhook_body(event_name: str, created_at: float, job: Job) -> dict[str, Any]:
    """What a webhook posts: the event, when it happened, and the video as it was then."""
    video = video_view(job, now=created_at)
    return {"type": event_name, "created_at": int(created_at), "data": video.model_dump(mode="json")}
