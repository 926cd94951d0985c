"""The checks every backend must pass (like diffusers' `PipelineTesterMixin`), over tiny models.

A backend's test module subclasses `BackendSuite` and provides two fixtures:
- `backend`: a loaded `VideoBackend` over a tiny model folder (saved and loaded back like a user's);
- `fast`: spec fields that keep a run to seconds (e.g. {"num_inference_steps": 2}).
Inputs (images, source videos) are made at the backend's native size from its facts.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from kinema.backends import TASKS, GenerationSpec
from kinema.errors import Interrupted, InvalidInputError
from kinema.io import read_aigc_label, read_video, write_video


def clip(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 (n, H, W, 3) frames: a moving gradient + noise, like a real clip."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(x * 7 + i * 5) % 256, (y * 5 + i * 3) % 256, (x + y + i * 11) % 256], axis=-1)
        + rng.integers(-20, 20, (height, width, 3))
        for i in range(n)
    ]
    return np.clip(frames, 0, 255).astype(np.uint8)


class Collect:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frames: np.ndarray) -> None:
        self.frames.append(np.array(frames))


class Discard:
    def write(self, frames: np.ndarray) -> None:
        pass


class BackendSuite:
    """Parametrised checks; the subclass supplies `backend` and `fast` fixtures."""

    # ---- helpers ---------------------------------------------------------------------------------------
    def inputs(self, backend, task: str, tmp_path: Path) -> dict:
        f = backend.facts
        image = clip(1, f.height, f.width, seed=1)[0]
        if task == "i2v":
            return {"image": image}
        if task == "keyframes":
            return {"image": image, "last_image": clip(1, f.height, f.width, seed=2)[0]}
        if task in ("extend", "v2v"):
            source = tmp_path / "source.mp4"
            write_video(source, clip(f.num_frames, f.height, f.width, seed=3), fps=f.fps)
            return {"video": str(source)}
        return {}

    def spec(self, backend, task: str, tmp_path: Path, fast: dict, **fields) -> GenerationSpec:
        return GenerationSpec.parse(
            task=task,
            prompt="a red ball moves to the right",
            **self.inputs(backend, task, tmp_path),
            **fast,
            **fields,
        )

    # ---- every declared mode makes a labelled file; every other mode is a clear error ------------------
    @pytest.mark.parametrize("task", TASKS)
    def test_modes(self, backend, fast, tmp_path, task):
        if task not in backend.modes:
            with pytest.raises(
                InvalidInputError, match=f"cannot do {task}; it does: {', '.join(backend.modes)}"
            ):
                backend.generate(self.spec(backend, task, tmp_path, fast))
            return
        out = tmp_path / ("out.png" if task == "t2i" else "out.mp4")
        result = backend.generate(self.spec(backend, task, tmp_path, fast, output_path=out))
        assert result.path == out and out.is_file() and result.frames is None
        assert read_aigc_label(out) is not None and read_aigc_label(out).Label == "1"
        if task != "t2i":
            frames, fps = read_video(out)
            assert frames.shape == (result.num_frames, result.height, result.width, 3)
            assert fps == pytest.approx(result.fps)

    # ---- determinism ----------------------------------------------------------------------------------
    def test_same_seed_same_frames(self, backend, fast, tmp_path):
        a = backend.generate(self.spec(backend, "t2v", tmp_path, fast, seed=3)).frames
        b = backend.generate(self.spec(backend, "t2v", tmp_path, fast, seed=3)).frames
        c = backend.generate(self.spec(backend, "t2v", tmp_path, fast, seed=4)).frames
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    # ---- sizes, lengths, fps as asked; impossible sizes refused with the size rules' words -------------
    def test_size_frames_fps_as_asked(self, backend, fast, tmp_path):
        f = backend.facts
        m, tc = f.size_multiple, f.temporal_compression
        width, height, frames = 2 * m, m, 1 + 2 * tc
        out = backend.generate(
            self.spec(backend, "t2v", tmp_path, fast, width=width, height=height, num_frames=frames, fps=7)
        )
        assert out.frames.shape == (frames, height, width, 3) and out.fps == 7
        with pytest.raises(InvalidInputError, match=f"multiples of {m}"):
            backend.generate(self.spec(backend, "t2v", tmp_path, fast, width=m + 1, height=m))
        with pytest.raises(InvalidInputError, match="too large"):
            side = m * int(np.ceil(np.sqrt(f.rules.pixel_limit) / m + 1))
            backend.generate(self.spec(backend, "t2v", tmp_path, fast, width=side, height=side))
        with pytest.raises(InvalidInputError, match=f"1 \\+ {tc}k"):
            backend.generate(self.spec(backend, "t2v", tmp_path, fast, num_frames=tc))

    def test_unknown_option_is_an_error(self, backend):
        with pytest.raises(InvalidInputError, match="Unknown option 'cfg'"):
            GenerationSpec.parse(prompt="x", cfg=3)

    # ---- progress and cancel --------------------------------------------------------------------------
    def test_progress_is_monotone_and_reaches_the_end(self, backend, fast, tmp_path):
        seen: list[tuple[int, int]] = []
        backend.generate(
            self.spec(backend, "t2v", tmp_path, fast, callback=lambda s, t, _: seen.append((s, t)))
        )
        steps = [s for s, _ in seen]
        assert steps == sorted(steps) and len(set(t for _, t in seen)) == 1
        assert steps[-1] == seen[-1][1]  # the last report is step == total

    def test_cancel_stops_within_a_step_and_leaves_no_file(self, backend, fast, tmp_path):
        calls = []

        def stop_at_first(step: int, total: int, stage: str) -> bool:
            calls.append(step)
            return False

        out = tmp_path / "cancelled.mp4"
        with pytest.raises(Interrupted):
            backend.generate(
                self.spec(backend, "extend", tmp_path, fast, output_path=out, callback=stop_at_first)
            )
        assert calls == [1]  # stopped at the first step it reported
        assert list(tmp_path.glob("*cancelled*")) == []  # no partial file, no temp file

    # ---- a sink gets the frames in order; memory stays flat while extending ------------------------------
    def test_sink_receives_the_frames(self, backend, fast, tmp_path):
        sink = Collect()
        in_memory = backend.generate(self.spec(backend, "t2v", tmp_path, fast)).frames
        streamed = backend.generate(self.spec(backend, "t2v", tmp_path, fast, sink=sink))
        assert streamed.frames is None
        np.testing.assert_array_equal(np.concatenate(sink.frames), in_memory)

    def _extend_peak(self, backend, fast, tmp_path, add: int, sink) -> int:
        spec = self.spec(backend, "extend", tmp_path, fast, num_frames=add, sink=sink)
        gc.collect()
        tracemalloc.start()
        try:
            backend.generate(spec)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        if "extend" not in backend.modes:
            pytest.skip(f"{backend.name} does not extend")
        chunk = backend.facts.num_frames
        self._extend_peak(backend, fast, tmp_path, chunk, Discard())  # warm-up
        short = self._extend_peak(backend, fast, tmp_path, chunk, Discard())
        long = self._extend_peak(backend, fast, tmp_path, 10 * chunk, Discard())
        # Nine chunks more may cost a little (each diffusers pipeline call leaves a few small tensor objects,
        # about 1.5 KB a chunk with these tiny models; before an extension encoded its prompt once it was
        # 4-10 KB), but less than two frames a chunk, where keeping each chunk's new frames costs four or more.
        frame_bytes = backend.facts.height * backend.facts.width * 3
        assert (long - short) / 9 < 2 * frame_bytes, (short, long, frame_bytes)
        kept = self._extend_peak(
            backend, fast, tmp_path, 5 * chunk, None
        )  # held in memory: the probe sees it
        assert kept > 1.2 * short, (short, kept)
