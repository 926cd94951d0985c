"""MP4 (H.264) reading and writing with PyAV, thumbnails and sprite sheets.

Writing: libx264, yuv420p (what every browser and phone plays), ``+faststart`` (the index sits at the front
so a browser starts playing before the download ends), the GB 45438-2025 ``AIGC`` label in the container
metadata. yuv420p needs even sides, so odd-sized frames are padded by one row/column (edge replication, so
the codec sees no hard border) and the true size is recorded under the metadata key ``KinemaFrameSize``;
``read_video``/``iter_video_frames``/``probe_video`` crop back to it, so a 33x17 video round-trips as 33x17.
Other players show the padded (34x18) picture with one replicated edge row/column.

Optional: the visible GB 45438-2025 mark ("AI生成 / AI-generated", ``visible_label=VisibleLabel()``) burned
into each frame as it is written (kinema/io/visible_label.py); C2PA signing of the finished file is
kinema/io/provenance.py.

Sound (issue 28): a writer opened with ``audio_rate`` carries one AAC track beside the picture
(``write_audio(float (C, n) in [-1, 1])``, streamed like the frames: PyAV's encoder cuts it into AAC's
1024-sample frames, and FFmpeg's interleaving muxer orders the packets of both tracks by time).
``probe_audio`` / ``read_audio`` read it back; thumbnails and sprite sheets never look at it.

Files are written atomically: frames stream into a hidden temp file in the target's folder, which replaces
the target only when the writer closes cleanly. Memory does not grow with the video's length.

Frames are ``np.uint8`` (or ``torch.uint8``) arrays shaped ``(T, H, W, 3)``, RGB.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.io.atomic import fsync_file, remove_quietly, temp_path_for
from kinema.io.label import (
    DEFAULT_LABEL,
    METADATA_KEY,
    AIGCLabel,
    LabelArg,
    read_aigc_label,
    resolve_label,
    save_labelled_image,
)
from kinema.io.visible_label import VisibleLabel

SIZE_KEY = "KinemaFrameSize"  # "WxH" of the frames before padding to even sides


@dataclass(frozen=True)
class EncodeSettings:
    """The H.264 encoder settings, in one place. crf 18 is visually lossless for x264; 'medium' is x264's
    default speed/size trade-off."""

    crf: int = 18
    preset: str = "medium"
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    movflags: str = "+faststart+use_metadata_tags"  # use_metadata_tags: keep the custom AIGC key
    # One encoder thread: with x264's frame threads (FFmpeg's default, 1.5x the cores) the bitstream depends
    # on thread timing, so the same frames gave different files under CPU load (4 distinct files in 40
    # encodes of a 13-frame clip with the other core busy; issue 18). One thread gave 1 in 30 and costs
    # ~28 % of encode speed at 832x480 (29 vs 40 fps on this CPU), small beside generation time.
    threads: int = 1
    # No macroblock-tree rate control: with it, one thread still gave different bitstreams for the same
    # frames under CPU load (a 32x24 5-frame world clip: 2 distinct files in 100 encodes, in up to half of
    # them; the world-make determinism test failed 4 times in 8). Without it: 1 file in 300 encodes; turning
    # off AQ, trellis, psy or fast-pskip did not help, rc-lookahead=0 (which also drops MB-tree) did. MB-tree
    # saves a few % of bits at equal CRF; a repeatable file matters more here.
    x264_params: str = "mbtree=0"


DEFAULT_ENCODE = EncodeSettings()
_SMPTE170M = 6  # AVCOL_PRI / AVCOL_TRC / AVCOL_SPC value for BT.601 (525-line) video
_RANGE_MPEG = 1  # AVCOL_RANGE_MPEG: limited ("TV") range, 16..235
_CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}


@dataclass(frozen=True)
class AudioSettings:
    """The audio track: AAC-LC (what every MP4 player decodes) at 192 kb/s for stereo (transparent for AAC at
    24-48 kHz, about 1 % of a 720p video's bits)."""

    codec: str = "aac"
    bit_rate: int = 192_000
    max_channels: int = 2


DEFAULT_AUDIO = AudioSettings()


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    duration: float  # seconds, from the decoded samples' count when read, else the container's
    codec: str


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float  # seconds


# ---------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------


def _to_numpy(frames: Any) -> np.ndarray:
    if hasattr(frames, "detach") and hasattr(frames, "cpu"):  # a torch tensor; torch is not imported here
        if str(frames.dtype) != "torch.uint8":
            raise InvalidInputError(
                f"Video frames must be uint8 (0..255); got a {frames.dtype} tensor. Convert [-1, 1] floats "
                "with ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)."
            )
        return frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise InvalidInputError(
            f"Video frames must be a uint8 numpy array or torch tensor; got {type(frames).__name__}."
        )
    return frames


def as_video_frames(frames: Any, allow_single: bool = False) -> np.ndarray:
    """Validate frames and return them as a C-contiguous ``np.uint8`` array ``(T, H, W, 3)``.

    With ``allow_single`` a single ``(H, W, 3)`` image is accepted and returned as ``(1, H, W, 3)``.
    """
    arr = _to_numpy(frames)
    if allow_single and arr.ndim == 3:
        arr = arr[None]
    expected = "(T, H, W, 3) or (H, W, 3)" if allow_single else "(T, H, W, 3)"
    if arr.ndim != 4:
        hint = " (index a batch (B, T, H, W, 3) one video at a time)" if arr.ndim == 5 else ""
        raise InvalidInputError(
            f"Video frames must be shaped {expected}; got shape {tuple(arr.shape)}{hint}."
        )
    if arr.shape[-1] != 3:
        hint = (
            " (channels-first? use .permute(0, 2, 3, 1) / np.moveaxis(x, 1, -1))"
            if arr.shape[1] == 3
            else " (drop alpha with frames[..., :3])"
            if arr.shape[-1] == 4
            else ""
        )
        raise InvalidInputError(
            f"Video frames must have 3 RGB channels last; got shape {tuple(arr.shape)}{hint}."
        )
    if arr.dtype != np.uint8:
        raise InvalidInputError(
            f"Video frames must be uint8 (0..255); got {arr.dtype}. Convert [-1, 1] floats with "
            "((x + 1) * 127.5).round().clip(0, 255).astype(np.uint8)."
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise InvalidInputError(f"Video frames must be non-empty; got shape {tuple(arr.shape)}.")
    return np.ascontiguousarray(arr)


def _check_fps(fps: float) -> Fraction:
    if not isinstance(fps, numbers.Real) or isinstance(fps, bool) or not math.isfinite(fps) or fps <= 0:
        raise InvalidInputError(f"fps must be a positive number; got {fps!r}.")
    # 23.976 -> 2997/125, 29.97 -> 2997/100; exact for the integer rates used nearly everywhere.
    return Fraction(fps if isinstance(fps, (int, Fraction)) else float(fps)).limit_denominator(1001)


def _container_format(path: Path) -> str:
    fmt = _CONTAINER_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"Cannot write a video to {path.name}: use a .mp4 (or .m4v / .mov) file name."
        )
    return fmt


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad (n, H, W, 3) to even H and W by repeating the last row/column (yuv420p needs even sides)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h == 0 and pad_w == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _check_audio_format(rate: int | None, channels: int) -> None:
    if rate is None:
        return
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or not 8_000 <= rate <= 192_000:
        raise InvalidInputError(f"audio_rate must be an integer in 8000..192000 Hz; got {rate!r}.")
    if channels not in (1, 2):
        raise InvalidInputError(f"audio_channels must be 1 (mono) or 2 (stereo); got {channels!r}.")


def as_audio_samples(samples: Any, channels: int) -> np.ndarray:
    """Validate sound and return it as C-contiguous float32 ``(channels, n)`` in [-1, 1]: a torch tensor or
    array ``(C, n)`` or ``(n,)``; mono is copied to both sides of a stereo track, stereo averaged for mono."""
    if hasattr(samples, "detach") and hasattr(samples, "cpu"):
        samples = samples.detach().float().cpu().numpy()
    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] not in (1, 2):
        raise InvalidInputError(
            f"Audio must be shaped (channels, samples) with 1 or 2 channels, or (samples,); got {arr.shape}."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidInputError(f"Audio samples must be floats in [-1, 1]; got {arr.dtype}.")
    if arr.shape[0] != channels:
        arr = np.repeat(arr, 2, axis=0) if channels == 2 else arr.mean(axis=0, keepdims=True)
    arr = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.ascontiguousarray(np.clip(arr, -1.0, 1.0))


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


class VideoWriter:
    """Stream frames into an H.264 MP4, chunk by chunk, written atomically.

    >>> with VideoWriter("out.mp4", fps=24, width=64, height=48) as w:
    ...     for chunk in chunks:          # each uint8 (n, 48, 64, 3)
    ...         w.write(chunk)

    The target appears only when the ``with`` block ends without an exception; on an exception the temp
    file is removed and any file already at ``path`` is left as it was.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        label: LabelArg = DEFAULT_LABEL,
        crf: int = DEFAULT_ENCODE.crf,
        preset: str = DEFAULT_ENCODE.preset,
        visible_label: VisibleLabel | None = None,
        audio_rate: int | None = None,
        audio_channels: int = 2,
    ) -> None:
        self.path = Path(path)
        fmt = _container_format(self.path)
        _check_audio_format(audio_rate, audio_channels)
        self._rate = _check_fps(fps)
        self.fps = float(fps)
        if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))):
            raise InvalidInputError(f"width and height must be integers; got {width!r} x {height!r}.")
        if width < 1 or height < 1:
            raise InvalidInputError(f"width and height must be at least 1; got {width} x {height}.")
        if not (isinstance(crf, int) and 0 <= crf <= 51):
            raise InvalidInputError(f"crf must be an integer in 0..51 (lower = better quality); got {crf!r}.")
        self.width, self.height = int(width), int(height)
        self.label: AIGCLabel | None = resolve_label(label)
        if visible_label is not None and not isinstance(visible_label, VisibleLabel):
            raise InvalidInputError(
                f"visible_label must be a VisibleLabel or None; got {type(visible_label).__name__}."
            )
        # The GB 45438-2025 explicit label, laid out once for this size and burned into each frame as it
        # arrives (kinema/io/visible_label.py).
        self._marks = (
            None if visible_label is None else visible_label.for_video(self.width, self.height, self.fps)
        )
        self.frames_written = 0
        self.samples_written = 0
        self.audio_rate, self.audio_channels = audio_rate, int(audio_channels)
        self._audio: Any = None
        self._closed = False

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path_for(self.path)
        self._container = av.open(
            str(self._tmp), "w", format=fmt, options={"movflags": DEFAULT_ENCODE.movflags}
        )
        try:
            if self.label is not None:
                self._container.metadata[METADATA_KEY] = self.label.to_json()
            if self.width % 2 or self.height % 2:
                self._container.metadata[SIZE_KEY] = f"{self.width}x{self.height}"
            self._stream = self._container.add_stream(DEFAULT_ENCODE.codec, rate=self._rate)
            self._stream.width = self.width + self.width % 2
            self._stream.height = self.height + self.height % 2
            self._stream.pix_fmt = DEFAULT_ENCODE.pix_fmt
            # swscale converts rgb24 -> yuv420p with BT.601 limited-range coefficients; say so in the stream
            # so that players do not guess BT.709 for HD sizes and shift the colours.
            ctx = self._stream.codec_context
            ctx.color_primaries, ctx.color_trc, ctx.colorspace = _SMPTE170M, _SMPTE170M, _SMPTE170M
            ctx.color_range = _RANGE_MPEG
            ctx.thread_count = DEFAULT_ENCODE.threads  # deterministic bitstream (see EncodeSettings)
            self._stream.options = {
                "crf": str(crf),
                "preset": preset,
                "x264-params": DEFAULT_ENCODE.x264_params,
            }
            if audio_rate is not None:
                self._audio = self._container.add_stream(DEFAULT_AUDIO.codec, rate=int(audio_rate))
                self._audio.layout = "stereo" if self.audio_channels == 2 else "mono"
                self._audio.bit_rate = DEFAULT_AUDIO.bit_rate * self.audio_channels // 2
            # Open the file and write its header now, not at the first packet x264 lets out (its lookahead
            # holds frames back): a job's partial output is then on disk from its first frame, where the
            # janitor and a restart's sweep can see it.
            self._container.start_encoding()
        except BaseException:
            self.abort()
            raise

    def write(self, frames: Any) -> None:
        """Append frames: uint8 ``(n, H, W, 3)`` (or one ``(H, W, 3)`` frame) of the writer's size."""
        if self._closed:
            raise InvalidInputError(
                f"VideoWriter for {self.path.name} is closed; open a new one to write more."
            )
        arr = as_video_frames(frames, allow_single=True)
        if arr.shape[1:3] != (self.height, self.width):
            raise InvalidInputError(
                f"Frames are {arr.shape[2]}x{arr.shape[1]} but this writer was opened for "
                f"{self.width}x{self.height}; resize them or open the writer with their size."
            )
        if self._marks is not None:
            arr = self._marks.apply(arr, self.frames_written)  # marked copies; the caller's frames stay clean
        arr = _pad_even(arr)  # (n, H + H%2, W + W%2, 3)
        for rgb in arr:
            # rgb24 -> yuv420p here, with a fresh converter per frame, not in the encoder with its reused one:
            # that way the same frames gave different bitstreams far more often (11 distinct files in 12
            # encodes of a 20-frame 64x48 clip with the visible label's sharp text in it, with the other core
            # busy; 1-2 in 20 this way, which x264 itself still shows), for ~2 ms more a frame at 832x480.
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=DEFAULT_ENCODE.pix_fmt)
            frame.pts = self.frames_written
            frame.time_base = 1 / self._rate
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1

    def write_audio(self, samples: Any) -> None:
        """Append sound: float ``(C, n)`` (or ``(n,)`` mono) samples in [-1, 1] at the writer's
        ``audio_rate``, continuing what was written before. Louder samples are clipped, not wrapped."""
        if self._closed:
            raise InvalidInputError(
                f"VideoWriter for {self.path.name} is closed; open a new one to write more."
            )
        if self._audio is None:
            raise InvalidInputError(
                f"VideoWriter for {self.path.name} was opened without sound: pass audio_rate= to add a track."
            )
        arr = as_audio_samples(samples, self.audio_channels)  # float32 (C, n)
        if arr.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(arr, format="fltp", layout=self._audio.layout.name)
        frame.sample_rate = int(self.audio_rate)
        frame.pts = self.samples_written
        frame.time_base = Fraction(1, int(self.audio_rate))
        # PyAV re-frames into AAC's 1024-sample frames. FFmpeg's AAC encoder records the track's length to
        # within 8 samples (17000 written → 16992 read back): a third of a millisecond at 24 kHz.
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        self.samples_written += arr.shape[1]

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place; returns the final path."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise InvalidInputError(
                f"No frames were written to {self.path.name}; a video needs at least one."
            )
        try:
            for packet in self._stream.encode():  # flush delayed frames
                self._container.mux(packet)
            if self._audio is not None:
                for packet in self._audio.encode():  # the encoder's delayed frames
                    self._container.mux(packet)
            self._container.close()
            self._closed = True
            fsync_file(self._tmp)
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; the target path is not touched."""
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except Exception:  # the file is being thrown away anyway
                pass
        remove_quietly(self._tmp)

    def __del__(self) -> None:
        # A writer dropped without close() (no ``with``) must not leave its hidden temp file behind.
        if hasattr(self, "_tmp") and not getattr(self, "_closed", True):
            self.abort()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def write_video(
    path: str | Path,
    frames: Any,
    fps: float,
    label: LabelArg = DEFAULT_LABEL,
    crf: int = DEFAULT_ENCODE.crf,
    preset: str = DEFAULT_ENCODE.preset,
    visible_label: VisibleLabel | None = None,
    audio: Any = None,
    audio_rate: int | None = None,
) -> Path:
    """Write uint8 ``(T, H, W, 3)`` frames to an H.264 MP4 with the AIGC label (and, given a
    ``VisibleLabel``, the visible "AI生成" mark in the pixels), and with ``audio`` (float ``(C, n)`` at
    ``audio_rate`` Hz) as an AAC track; returns the path."""
    arr = as_video_frames(frames)
    if (audio is None) != (audio_rate is None):
        raise InvalidInputError("Give the sound and its rate together: audio= and audio_rate=.")
    channels = 1 if audio is not None and np.ndim(audio) == 1 else 2
    if audio is not None and np.ndim(audio) == 2:
        channels = int(np.shape(audio)[0])
    with VideoWriter(
        path,
        fps,
        arr.shape[2],
        arr.shape[1],
        label=label,
        crf=crf,
        preset=preset,
        visible_label=visible_label,
        audio_rate=audio_rate,
        audio_channels=channels,
    ) as writer:
        if audio is not None:
            writer.write_audio(audio)
        writer.write(arr)
    return Path(path)


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def _open_input(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"Video file {path} does not exist; check the path.")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise InvalidInputError(f"{path} is not a readable video file ({exc}).") from exc
    if not container.streams.video:
        container.close()
        raise InvalidInputError(f"{path} has no video stream.")
    return container


def _true_size(container: av.container.InputContainer, stream: av.VideoStream) -> tuple[int, int]:
    """(width, height) to show: the recorded pre-padding size when it matches this stream's padding."""
    coded_w, coded_h = stream.codec_context.width, stream.codec_context.height
    recorded = container.metadata.get(SIZE_KEY)
    if recorded:
        try:
            w, h = (int(v) for v in recorded.lower().split("x"))
        except ValueError:
            return coded_w, coded_h
        if w + w % 2 == coded_w and h + h % 2 == coded_h:
            return w, h
    return coded_w, coded_h


def _stream_fps(stream: av.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns the display matrix asks for (phones store portrait video as
    landscape frames plus a 90-degree rotation; players and ffmpeg apply it, so must we)."""
    rotation = getattr(frame, "rotation", 0) or 0
    return round(rotation / 90) % 4


def _first_frame_turns(path: str | Path) -> int:
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return _quarter_turns(frame)
    except av.FFmpegError:
        return 0  # reading the frames will report the damage
    finally:
        container.close()
    return 0


def iter_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video one by one as uint8 ``(H, W, 3)`` RGB as displayed (cropped to the
    recorded size, display rotation applied), decoding as it goes."""
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = _true_size(container, stream)
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")[:height, :width]  # (H, W, 3) as coded
                turns = _quarter_turns(frame)
                yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb  # as displayed
        except av.FFmpegError as exc:
            raise InvalidInputError(f"{path} could not be decoded ({exc}); the file may be damaged.") from exc
    finally:
        container.close()


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode a whole video: ``(frames uint8 (T, H, W, 3), fps)``."""
    info = probe_video(path)
    # Fill a preallocated array (one copy of the video in memory, not a list plus a stacked copy); the
    # container's count can be off by a frame or two for files from elsewhere, so grow/trim if needed.
    out = np.empty((max(info.num_frames, 1), info.height, info.width, 3), np.uint8)
    count = 0
    for frame in iter_video_frames(path):
        if count == out.shape[0]:
            out = np.concatenate([out, np.empty_like(out[: max(1, count // 4)])])
        out[count] = frame
        count += 1
    if count == 0:
        raise InvalidInputError(f"{path} contains no decodable frames.")
    return out[:count], info.fps  # (T, H, W, 3)


def probe_video(path: str | Path) -> VideoInfo:
    """Displayed size, frame rate, frame count and duration, from the container (plus the first frame, for
    the display rotation; packets are counted when the container stores no frame count)."""
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        width, height = _true_size(container, stream)
        fps = _stream_fps(stream)
        num_frames = int(stream.frames or 0)
        if num_frames == 0:  # some containers do not store a count: count packets (no decoding)
            num_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
        if fps > 0:
            duration = num_frames / fps
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
    finally:
        container.close()
    # The display rotation lives in side data that PyAV shows on decoded frames only: decode one frame
    # (milliseconds) so that a portrait phone video probes as portrait.
    if _first_frame_turns(path) % 2:
        width, height = height, width
    return VideoInfo(width=width, height=height, fps=fps, num_frames=num_frames, duration=duration)


def probe_audio(path: str | Path) -> AudioInfo | None:
    """The file's first audio track (rate, channels, duration from the container, codec), or None."""
    container = _open_input(path)
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        ctx = stream.codec_context
        return AudioInfo(int(ctx.sample_rate), int(ctx.channels), duration, ctx.name)
    finally:
        container.close()


def resample_audio(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """float32 (C, n) at `rate` → float32 (C, m) at `to_rate` with FFmpeg's resampler (swresample)."""
    samples = as_audio_samples(samples, np.shape(samples)[0] if np.ndim(samples) == 2 else 1)
    layout = "stereo" if samples.shape[0] == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate = int(rate)
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=int(to_rate))
    parts = [f.to_ndarray() for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(parts, axis=1).astype(np.float32) if parts else samples[:, :0]


def read_audio(path: str | Path, max_seconds: float = 3600.0) -> tuple[np.ndarray, int] | None:
    """Decode a file's first audio track: ``(float32 (C, n) in [-1, 1], sample rate)``, or None when it has
    no sound. Longer than ``max_seconds`` is an error (memory is bounded: an hour of 48 kHz stereo is 1.4 GB)."""
    container = _open_input(path)
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        # AAC decodes in whole 1024-sample frames; the track's duration says where the sound really ends
        length = (
            round(stream.duration * stream.time_base * rate) if stream.duration and stream.time_base else None
        )
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout.name, rate=rate)
        parts, count = [], 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray())  # (C, n) float32
                    count += parts[-1].shape[1]
                if count > max_seconds * rate:
                    raise InvalidInputError(
                        f"{path}'s sound is longer than {max_seconds:g} s; trim the file before using it."
                    )
        except av.FFmpegError as exc:
            raise InvalidInputError(
                f"{path}'s sound could not be decoded ({exc}); the file may be damaged."
            ) from exc
    finally:
        container.close()
    if not parts:
        return None
    samples = np.concatenate(parts, axis=1)[:, :length]  # (C, n)
    return np.ascontiguousarray(samples, dtype=np.float32), rate


# ---------------------------------------------------------------------------------------------------------
# Thumbnails and sprite sheets
# ---------------------------------------------------------------------------------------------------------

FrameChoice = Literal["first", "middle"] | int


def _pick_frames(source: Any, indices_for: Any) -> tuple[list[np.ndarray], AIGCLabel | None]:
    """Frames at the indices ``indices_for(num_frames)`` from an array or a video file (streamed), plus the
    source file's label (None for arrays)."""
    if isinstance(source, (str, os.PathLike)):
        info = probe_video(source)
        wanted = list(indices_for(info.num_frames))
        by_index: dict[int, np.ndarray] = {}
        needed = set(wanted)
        for i, frame in enumerate(iter_video_frames(source)):
            if i in needed:
                by_index[i] = frame
                if len(by_index) == len(needed):
                    break
        if not by_index:
            raise InvalidInputError(f"{source} contains no decodable frames.")
        last = max(by_index)  # a container count can overstate the decodable frames by a few
        frames = [by_index.get(i, by_index[last]) for i in wanted]
        return frames, read_aigc_label(source)
    arr = as_video_frames(source, allow_single=True)
    return [arr[i] for i in indices_for(arr.shape[0])], None


def _frame_index(choice: FrameChoice, num_frames: int) -> int:
    if choice == "first":
        return 0
    if choice == "middle":
        return max(num_frames - 1, 0) // 2
    if isinstance(choice, (int, np.integer)) and -num_frames <= choice < num_frames:
        return int(choice) % num_frames
    raise InvalidInputError(
        f"frame must be 'first', 'middle' or an index in [{-num_frames}, {num_frames}); got {choice!r}."
    )


def _label_for_derived(label: LabelArg, source_label: AIGCLabel | None) -> AIGCLabel | None:
    """A thumbnail of a labelled video carries the video's label (same ProduceID) unless told otherwise."""
    if label is DEFAULT_LABEL and source_label is not None:
        return source_label
    return resolve_label(label)


def _resize_to_width(img: Image.Image, width: int | None) -> Image.Image:
    if width is None or width == img.width:
        return img
    if width < 1:
        raise InvalidInputError(f"width must be at least 1; got {width}.")
    height = max(1, round(img.height * width / img.width))
    return img.resize((width, height), Image.Resampling.LANCZOS)


def write_thumbnail(
    source: Any,
    out: str | Path,
    frame: FrameChoice = "middle",
    width: int | None = None,
    label: LabelArg = DEFAULT_LABEL,
    visible_label: VisibleLabel | None = None,
) -> Path:
    """Save one frame of a video (frames or an MP4 path) as a labelled PNG or JPEG (by ``out``'s suffix).

    ``frame``: "middle" (default), "first" or an index; ``width``: scale to this width (aspect kept);
    ``visible_label``: burn the visible mark into the still (after scaling, so it is sized for the still).
    """
    frames, source_label = _pick_frames(source, lambda n: [_frame_index(frame, n)])
    img = _resize_to_width(Image.fromarray(frames[0]), width)
    save_labelled_image(img, out, _label_for_derived(label, source_label), visible_label=visible_label)
    return Path(out)


def spritesheet_indices(num_frames: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices from first to last (repeats when the video is shorter)."""
    if count == 1:
        return [0]
    return [round(i * (num_frames - 1) / (count - 1)) for i in range(count)]


def write_spritesheet(
    source: Any,
    out: str | Path,
    columns: int = 4,
    rows: int = 4,
    tile_width: int | None = None,
    label: LabelArg = DEFAULT_LABEL,
    visible_label: VisibleLabel | None = None,
) -> Path:
    """Save a ``rows x columns`` grid of evenly spaced frames (row-major, first to last frame) as a PNG or
    JPEG; each tile is ``tile_width`` wide (default: the frame's width). The image is
    ``(rows * tile_h, columns * tile_w)``. ``visible_label`` marks the sheet once (not each tile)."""
    if not (isinstance(columns, int) and isinstance(rows, int) and columns >= 1 and rows >= 1):
        raise InvalidInputError(f"columns and rows must be positive integers; got {columns!r} x {rows!r}.")
    frames, source_label = _pick_frames(source, lambda n: spritesheet_indices(n, columns * rows))
    tiles = [_resize_to_width(Image.fromarray(f), tile_width) for f in frames]
    tile_w, tile_h = tiles[0].size
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * tile_w, (k // columns) * tile_h))
    save_labelled_image(sheet, out, _label_for_derived(label, source_label), visible_label=visible_label)
    return Path(out)
