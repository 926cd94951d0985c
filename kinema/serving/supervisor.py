"""Keeps `kinema serve`'s worker processes alive (issue 15, item 6: after kill -9 of the only worker the
queue froze for good).

Each worker slot is watched; a worker that exits while the server runs is logged and started again after
a back-off that doubles with each quick death (1 s, 2 s, 4 s, ... at most 60 s) and resets once a worker
has stayed up for a minute — a worker that crashes on start-up (a broken model folder) does not spin.
Its job is not lost: the lease it held expires and the job returns to the queue (JobStore.recover_expired).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("kinema.serve")


@dataclass
class _Slot:
    proc: subprocess.Popen | None = None
    started: float = 0.0
    backoff: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit codes, newest last


class Supervisor:
    def __init__(
        self,
        command: list[str],
        count: int,
        min_backoff: float = 1.0,
        max_backoff: float = 60.0,
        healthy_after: float = 60.0,
        poll: float = 0.2,
    ) -> None:
        self.command = command
        self.slots = [_Slot() for _ in range(count)]
        self.min_backoff, self.max_backoff, self.healthy_after = min_backoff, max_backoff, healthy_after
        self.poll = poll
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self, slot: _Slot) -> None:
        slot.proc = subprocess.Popen(self.command)
        slot.started = time.monotonic()
        slot.restart_at = None

    def start(self) -> Supervisor:
        with self._lock:
            for slot in self.slots:
                self._spawn(slot)
        self._thread = threading.Thread(target=self._watch, name="kinema-supervisor", daemon=True)
        self._thread.start()
        return self

    def check(self) -> None:
        """One pass: note dead workers, restart those whose back-off is over."""
        now = time.monotonic()
        with self._lock:
            if self._stopping.is_set():
                return
            for i, slot in enumerate(self.slots):
                if slot.proc is not None and slot.restart_at is None:
                    code = slot.proc.poll()
                    if code is None:
                        continue
                    lived = now - slot.started
                    slot.history.append(code)
                    if lived >= self.healthy_after:
                        slot.backoff = self.min_backoff
                    else:
                        slot.backoff = min(self.max_backoff, max(self.min_backoff, slot.backoff * 2))
                    slot.restart_at = now + slot.backoff
                    log.warning(
                        "worker %d (pid %d) exited with code %s after %.1f s; restarting it in %.0f s",
                        i,
                        slot.proc.pid,
                        code,
                        lived,
                        slot.backoff,
                    )
                if slot.restart_at is not None and now >= slot.restart_at:
                    self._spawn(slot)
                    slot.restarts += 1
                    log.info("worker %d restarted (pid %d, restart %d)", i, slot.proc.pid, slot.restarts)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll):
            try:
                self.check()
            except Exception:
                log.exception("worker supervisor pass failed")

    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    def stats(self) -> tuple[int, int]:
        """(worker processes alive, restarts so far), for /metrics."""
        with self._lock:
            alive = sum(1 for s in self.slots if s.proc is not None and s.proc.poll() is None)
            return alive, sum(s.restarts for s in self.slots)

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._stopping.set()
            procs = [s.proc for s in self.slots if s.proc is not None]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)
