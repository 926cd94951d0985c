"""The API process's housekeeping thread: expired downloads, orphaned files, dead workers' leases.

- every 10 minutes: delete the files of videos whose downloads expired (the first pass looks at
  everything that ever expired);
- every minute (and once at start-up): sweep upload temp files and job-less input folders left by a crash
  (`Storage.sweep`, issue 15, item 7);
- every lease period: requeue the jobs whose worker stopped renewing its lease, so the queue's state is
  true even while no worker is claiming (item 6; claims sweep too).
"""

from __future__ import annotations

import logging
import threading
import time

from kinema.serving.service import VideoService

log = logging.getLogger("kinema.serve")


class Janitor:
    def __init__(self, service: VideoService) -> None:
        self.service = service
        self.stop_event = threading.Event()
        self._expired_since = 0.0

    def sweep_files(self) -> None:
        removed_bytes, removed = self.service.sweep_files()
        if removed:
            log.info("swept %d orphaned upload/temp paths (%d bytes)", removed, removed_bytes)

    def remove_expired(self) -> None:
        now = time.time()
        removed = self.service.remove_expired_outputs(self._expired_since, now)
        if removed:
            log.info("removed the files of %d expired videos", removed)
        self._expired_since = now

    def sweep_leases(self) -> None:
        requeued = self.service.sweep_leases()
        if requeued:
            log.warning("jobs of a dead worker returned to the queue (or failed): %s", ", ".join(requeued))

    def run(self) -> None:
        lease = max(1.0, self.service.settings.lease_seconds)
        tasks = [(self.remove_expired, 600.0), (self.sweep_files, 60.0), (self.sweep_leases, lease)]
        due = [0.0] * len(tasks)
        while not self.stop_event.is_set():
            now = time.monotonic()
            for i, (task, every) in enumerate(tasks):
                if now >= due[i]:
                    due[i] = now + every
                    try:
                        task()
                    except Exception:
                        log.exception("janitor task %s failed", task.__name__)
            self.stop_event.wait(max(0.05, min(due) - time.monotonic()))

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="kinema-janitor", daemon=True)
        thread.start()
        return thread
