"""The "model under test": a small `VideoModel` protocol, its use of a model folder's backend
(`kinema.backends`, so every backend — Kinema's own, open-weight ones — is measured the same way), and
reference models that need no network (ground truth and deliberately wrong ones). Videos are `np.uint8 (T, H, W, 3)`.

Reference models:
- `GroundTruthModel`: an oracle that replays the simulator's renders. Fed through the same evaluator it
  gives the *parser floor* (the error of the measurement itself).
- `FrozenModel`: repeats the last given frame (no motion).
- `ReversedModel`: plays the true video backwards (motion in the wrong direction).
- `WrongColourModel`: the true video with colour channels rotated (R,G,B -> G,B,R: red becomes blue...).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from kinema.errors import InvalidInputError, ModelNotFoundError

REFERENCE_MODELS = ("ground-truth", "frozen", "reversed", "wrong-colour")


@dataclass(frozen=True)
class CameraRequest:
    """A Kling-style camera control: one of the six axes (or a preset type) with a value in -10..10."""

    type: str = "simple"  # simple | down_back | forward_up | right_turn_forward | left_turn_forward
    config: tuple[tuple[str, float], ...] = ()  # e.g. (("pan", 5.0),) for type="simple"

    def as_dict(self) -> dict[str, Any]:
        return (
            {"type": self.type, "config": dict(self.config)} if self.type == "simple" else {"type": self.type}
        )


@runtime_checkable
class VideoModel(Protocol):
    """What the evaluators need from a video model."""

    name: str

    def continue_video(
        self, prefix: np.ndarray, num_frames: int, caption: str | None = None, seed: int = 0
    ) -> np.ndarray:
        """Given the first frames `prefix (P,H,W,3)`, return the whole video `(num_frames,H,W,3)`;
        frames `0..P-1` stand for the prefix (the evaluators never score them)."""
        ...

    def text_to_video(
        self, prompt: str, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        """A video `(num_frames, height, width, 3)` for a prompt."""
        ...

    def camera_video(
        self, prompt: str, camera: CameraRequest, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        """A video for a prompt, with the camera moving as asked."""
        ...

    def trajectory_video(
        self, prompt: str, tracks: np.ndarray, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        """A video for a prompt whose objects follow `tracks (K, T, 3)` (x_px, y_px, visible per frame)."""
        ...


def _frame_key(frame: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(frame).tobytes(), digest_size=16).hexdigest()


@dataclass
class GroundTruthModel:
    """Oracle: answers from the renders the evaluator registered with `add_clip`.

    Continuation looks the prefix up frame by frame in every registered clip, so a clip can be continued
    from any point (the extension benchmark continues a long clip chunk after chunk).
    """

    name: str = "ground-truth"
    _clips: list[np.ndarray] = field(default_factory=list)
    _frame_index: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _by_prompt: dict[str, int] = field(default_factory=dict)
    _by_camera: dict[tuple[str, CameraRequest], int] = field(default_factory=dict)
    _by_trajectory: dict[tuple[str, str], int] = field(default_factory=dict)

    def add_clip(
        self,
        video: np.ndarray,
        prompt: str | None = None,
        camera: CameraRequest | None = None,
        trajectory: np.ndarray | None = None,
    ) -> None:
        clip_id = len(self._clips)
        self._clips.append(video)
        for t, frame in enumerate(video):
            self._frame_index.setdefault(_frame_key(frame), []).append((clip_id, t))
        if trajectory is not None:
            self._by_trajectory[(prompt or "", _frame_key(trajectory))] = clip_id
        elif prompt is not None and camera is None:
            self._by_prompt[prompt] = clip_id
        if prompt is not None and camera is not None:
            self._by_camera[(prompt, camera)] = clip_id

    def continue_video(
        self, prefix: np.ndarray, num_frames: int, caption: str | None = None, seed: int = 0
    ) -> np.ndarray:
        clip_id, start = self._locate(prefix)
        clip = self._clips[clip_id]
        if start + num_frames > len(clip):
            raise InvalidInputError(
                f"the ground-truth clip has {len(clip) - start} frames from this prefix, "
                f"{num_frames} were asked; register a longer clip with add_clip"
            )
        return clip[start : start + num_frames].copy()

    def _locate(self, prefix: np.ndarray) -> tuple[int, int]:
        """(clip, first frame) where the prefix sits: an exact match, else (for prefixes a wrong model
        made, which are in no clip) the window of the same length with the smallest mean |difference|."""
        p = len(prefix)
        for clip_id, t in self._frame_index.get(_frame_key(prefix[-1]), []):
            start = t - p + 1
            if start >= 0 and np.array_equal(self._clips[clip_id][start : t + 1], prefix):
                return clip_id, start
        best, where = np.inf, None
        ref = prefix.astype(np.int16)
        for clip_id, clip in enumerate(self._clips):
            if clip.shape[1:] != prefix.shape[1:]:
                continue
            for start in range(len(clip) - p + 1):
                gap = float(np.abs(clip[start : start + p].astype(np.int16) - ref).mean())
                if gap < best:
                    best, where = gap, (clip_id, start)
        if where is None:
            raise InvalidInputError(
                "no registered ground-truth clip has this frame size; add one with add_clip"
            )
        return where

    def text_to_video(
        self, prompt: str, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        if prompt not in self._by_prompt:
            raise InvalidInputError(f"no ground-truth clip registered for the prompt {prompt!r}")
        return self._clips[self._by_prompt[prompt]][:num_frames].copy()

    def camera_video(
        self, prompt: str, camera: CameraRequest, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        if (prompt, camera) not in self._by_camera:
            raise InvalidInputError(f"no ground-truth clip registered for {prompt!r} with camera {camera}")
        return self._clips[self._by_camera[(prompt, camera)]][:num_frames].copy()

    def trajectory_video(
        self, prompt: str, tracks: np.ndarray, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        key = (prompt, _frame_key(tracks))
        if key not in self._by_trajectory:
            raise InvalidInputError(f"no ground-truth clip registered for {prompt!r} with these tracks")
        return self._clips[self._by_trajectory[key]][:num_frames].copy()


class _Distorted:
    """A wrong model: the base model's answer with a distortion applied to its generated frames."""

    name = "distorted"

    def __init__(self, base: VideoModel) -> None:
        self.base = base

    def _distort(self, video: np.ndarray, given: int) -> np.ndarray:
        raise NotImplementedError

    def continue_video(
        self, prefix: np.ndarray, num_frames: int, caption: str | None = None, seed: int = 0
    ) -> np.ndarray:
        return self._distort(self.base.continue_video(prefix, num_frames, caption, seed), len(prefix))

    def text_to_video(
        self, prompt: str, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        return self._distort(self.base.text_to_video(prompt, num_frames, width, height, seed), 1)

    def camera_video(
        self, prompt: str, camera: CameraRequest, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        return self._distort(self.base.camera_video(prompt, camera, num_frames, width, height, seed), 1)

    def trajectory_video(
        self, prompt: str, tracks: np.ndarray, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        return self._distort(self.base.trajectory_video(prompt, tracks, num_frames, width, height, seed), 1)


class FrozenModel(_Distorted):
    """Every frame after the given ones repeats the last given frame: nothing moves."""

    name = "frozen"

    def _distort(self, video: np.ndarray, given: int) -> np.ndarray:
        out = video.copy()
        out[given:] = video[given - 1]
        return out


class ReversedModel(_Distorted):
    """The true video played backwards: objects and camera move the wrong way."""

    name = "reversed"

    def _distort(self, video: np.ndarray, given: int) -> np.ndarray:
        return video[::-1].copy()


class WrongColourModel(_Distorted):
    """The true video with channels rotated (R,G,B) -> (G,B,R): red turns blue, blue turns green."""

    name = "wrong-colour"

    def _distort(self, video: np.ndarray, given: int) -> np.ndarray:
        return np.ascontiguousarray(video[..., [1, 2, 0]])


class CodecModel(_Distorted):
    """The true video through a codec: every frame encoded, the posterior's mode decoded
    (`kinema.eval.codec`). No model drawing through that codec can do better, so `--model codec:M` measures
    the codec's own share of a benchmark's error (`codec:models/kinema-world-v1`, or a VAE folder)."""

    def __init__(self, base: VideoModel, codec: Any) -> None:
        super().__init__(base)
        self.codec = codec
        self.name = f"codec:{codec.name}"

    def _distort(self, video: np.ndarray, given: int) -> np.ndarray:
        from kinema.pipelines.pipeline_kinema import frames_to_tensor, tensor_to_frames

        t = len(video)  # a causal VAE takes 1 + 4k frames: the last one repeated up to that, then cut
        padded = np.concatenate([video, np.repeat(video[-1:], valid_num_frames(t) - t, axis=0)])
        return tensor_to_frames(self.codec.round_trip(frames_to_tensor(padded[None])))[0, :t]


def valid_num_frames(num_frames: int) -> int:
    """The smallest pixel frame count `1 + 4k` that holds `num_frames` (what the causal VAE can make)."""
    return 1 + 4 * max(0, -(-(num_frames - 1) // 4))


class BackendVideoModel:
    """A model folder's backend (`kinema.backends`) as the model under test: every question the
    evaluators ask is one `GenerationSpec`.

    - continuation: the `extend` task, given the prefix as the video to extend and asked for the missing
      frames. The causal VAE packs frames as `1 + 4k`, so the model conditions on the last `1 + 4k`
      frames of the prefix (the last 1 of the paper's 3; use `cond_frames=5` to give it 5);
    - text to video and camera: the `t2v` task (camera as a Kling `camera_control`), generated at the next
      `1 + 4k` frame count and cut to the length asked.
    """

    def __init__(
        self,
        path: str | Path,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        device: str = "cpu",
        physics: bool = False,
        backend: Any = None,
    ) -> None:
        from kinema.backends import load_backend

        self.path = Path(path)
        if not self.path.is_dir():
            raise ModelNotFoundError(
                f"{self.path} is not a Kinema model folder (or another folder a backend runs); pass --model a "
                "model folder "
                f"or one of {', '.join(REFERENCE_MODELS)}"
            )
        self.backend = backend or load_backend(self.path, device=device)
        self.name = self.path.name + (" (physics)" if physics else "")
        self.sampling = {"num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale}
        if physics:  # physics-grounded: the simulator decides the motion, the model draws it
            self.sampling["physics"] = True

    def with_physics(self, candidates: int | None = None) -> BackendVideoModel:
        """The same loaded model in physics mode (for plain and physics rows side by side), drawing
        `candidates` videos per clip and keeping the one closest to the simulation (default 1)."""
        steps, guidance = self.sampling["num_inference_steps"], self.sampling["guidance_scale"]
        model = BackendVideoModel(self.path, steps, guidance, physics=True, backend=self.backend)
        if candidates is not None:
            model.sampling["physics_candidates"] = candidates
            model.name += f" ×{candidates}"
        return model

    def _frames(self, **fields: Any) -> np.ndarray:
        from kinema.backends import GenerationSpec

        return self.backend.generate(GenerationSpec.parse(**fields, **self.sampling)).frames  # (T, H, W, 3)

    def continue_video(
        self, prefix: np.ndarray, num_frames: int, caption: str | None = None, seed: int = 0
    ) -> np.ndarray:
        video = self._frames(
            task="extend", video=prefix, prompt=caption or "", num_frames=num_frames - len(prefix), seed=seed
        )
        return _with_prefix(prefix, video, num_frames)

    def text_to_video(
        self, prompt: str, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        return self._frames(
            prompt=prompt, width=width, height=height, num_frames=valid_num_frames(num_frames), seed=seed
        )[:num_frames]

    def camera_video(
        self, prompt: str, camera: CameraRequest, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        return self._frames(
            prompt=prompt,
            width=width,
            height=height,
            num_frames=valid_num_frames(num_frames),
            camera_control=camera.as_dict(),
            seed=seed,
        )[:num_frames]

    def trajectory_video(
        self, prompt: str, tracks: np.ndarray, num_frames: int, width: int, height: int, seed: int = 0
    ) -> np.ndarray:
        frames = valid_num_frames(num_frames)
        full = np.concatenate([tracks, np.repeat(tracks[:, -1:], frames - tracks.shape[1], axis=1)], axis=1)
        return self._frames(
            prompt=prompt, width=width, height=height, num_frames=frames, trajectories=full, seed=seed
        )[:num_frames]


def _with_prefix(prefix: np.ndarray, video: np.ndarray, num_frames: int) -> np.ndarray:
    """`num_frames` frames starting at the prefix, whether the pipeline returned the prefix or only new frames."""
    if len(video) >= num_frames:
        return video[:num_frames]
    return np.concatenate([prefix, video])[:num_frames]


def load_model(spec: str, oracle: GroundTruthModel, **pipeline_options: Any) -> VideoModel:
    """A model by name: one of `REFERENCE_MODELS` (built over the oracle), `codec:<model or VAE folder>` (the
    oracle through that codec) or a model folder (its backend)."""
    wrong = {"frozen": FrozenModel, "reversed": ReversedModel, "wrong-colour": WrongColourModel}
    if spec in ("ground-truth", "gt"):
        return oracle
    if spec in wrong:
        return wrong[spec](oracle)
    if spec.startswith("codec:"):
        from kinema.eval.codec import load_codec

        return CodecModel(oracle, load_codec(spec.removeprefix("codec:")))
    return BackendVideoModel(spec, **pipeline_options)
