"""One progress count over a whole generation, whichever model family runs it.

The total is every unit of work: denoising steps and decodes, over every chunk of an extension. A
callback `(step, total, stage) -> False to stop` hears each unit; False raises `Interrupted` (a cancel).
Kinema's pipelines `advance` one unit at a time; a diffusers pipeline reports where it is within a call
(`reach`), never backwards (SkyReels' diffusion forcing restarts its step count per window).
"""

from __future__ import annotations

from collections.abc import Callable

from kinema.errors import Interrupted

ProgressCallback = Callable[[int, int, str], "bool | None"]  # (step, total, stage) -> False to stop


class Progress:
    """Counts work units and asks the callback whether to go on."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback, self.total, self.step = callback, max(1, int(total)), 0

    def advance(self, stage: str, units: int = 1) -> None:
        """`units` more done."""
        self.step += units
        self._tell(min(self.step, self.total), stage)

    def reach(self, step: int, stage: str) -> None:
        """Done up to `step` (clamped to the total; a smaller step than the last is not reported back)."""
        self.step = max(self.step, min(self.total, step))
        self._tell(self.step, stage)

    def _tell(self, step: int, stage: str) -> None:
        if self.callback is not None and self.callback(step, self.total, stage) is False:
            raise Interrupted(
                f"Generation was stopped at {stage} (step {self.step} of {self.total}) on request."
            )
