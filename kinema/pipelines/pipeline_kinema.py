"""The shared steps of every Kinema pipeline, and text-to-video (`KinemaPipeline` / `TextToVideoPipeline`).

A generation is always the same six steps (diffusers' `__call__` layout); tasks differ only in what they
give the model to hold on to:

1. resolve the request: prompt, size (`sizes.py`), sampling defaults from the model's kinema.json
2. encode the prompt and the negative prompt (classifier-free guidance, one batched forward per step)
3. prepare conditions: given frames → `cond_latents` + `cond_mask`, camera → `(B, t, 6)`, trajectories →
   `(B, 3, t, h, w)` (docs/CONTRACTS.md)
4. prepare the scheduler's timesteps and the initial latents (noise; or a noised source video for v2v)
5. denoise with the diffusers flow-matching scheduler (`kinema.diffusion.flow_matching.make_scheduler`)
6. decode in time chunks with the causal VAE, pasting the given frames back exactly, streaming if asked

Given frames: a clip at frame 0 (the image of image-to-video, or the last frames of the video being
extended) is encoded as a video, so, the VAE being causal, its latents are exactly the leading latent
frames of the result, and they are written into the final latents before decoding. A frame given later
(a keyframe, the last frame) is encoded on its own as a 1-frame image latent, which is what an image
encodes to, and placed at the latent frame that covers it; it conditions the DiT but is not written into
the latents (a lone image latent is not what a 4-frame group encodes to); the pixels are pasted instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinema.diffusion.flow_matching import apply_guidance, make_scheduler
from kinema.errors import InvalidInputError
from kinema.models.autoencoder_kinema import AutoencoderKinema
from kinema.models.text_encoder import TextEncoder
from kinema.models.transformer_kinema import KinemaTransformer3DModel
from kinema.pipelines.camera import camera_vector
from kinema.pipelines.model_folder import ModelFolderConfig, load_model_folder
from kinema.pipelines.sizes import SizeRules, VideoSize
from kinema.pipelines.trajectories import (
    MAP_CHANNELS_WITH_LOOKS,
    load_trajectories,
    looks_from_prompt,
    rasterize_trajectories,
)
from kinema.runtime import media
from kinema.runtime.progress import Progress, ProgressCallback
from kinema.runtime.request import ModelDefaults, Request, resolve_request
from kinema.runtime.tasks import TASKS

FrameSink = Callable[[np.ndarray], None]  # receives uint8 (n, H, W, 3) chunks in order


@dataclass
class VideoPipelineOutput:
    """What every pipeline returns."""

    frames: np.ndarray | None  # uint8 (B, T, H, W, 3); None when the frames went to a writer / sink
    fps: float
    num_frames: int = 0  # frames per video (also when streamed)
    latents: torch.Tensor | None = None  # (B, C, t, h, w) final latents, with return_latents=True


@dataclass
class GenerationOptions:
    """Options every task takes (keyword arguments of `__call__`); None = the model's default."""

    negative_prompt: str | list[str] | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    num_frames: int | None = None
    seconds: float | None = None
    fps: float | None = None  # output frame rate (default: the model's, or the source video's)
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    sampler: str | None = None  # "euler" | "unipc"
    shift: float | None = None
    generator: torch.Generator | None = None
    seed: int | None = None
    callback: ProgressCallback | None = None
    camera_control: Mapping[str, Any] | None = None
    trajectories: Any = None  # TrajectoryPath list, tracks (K, T, 3), JSON text / file path
    decode_chunk_frames: int | None = None
    return_latents: bool = False
    guidance_interval: tuple[float, float] | None = None  # noise levels [low, high] where guidance applies
    guide_trajectory: bool | None = None  # with a trajectory map: guide towards the map too (model's default)


@dataclass
class GivenFrames:
    """Frames the result must contain (uint8, already at the output size)."""

    start: np.ndarray | None = None  # (n, H, W, 3), n = 1 + 4k, at frame 0
    later: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame index, (H, W, 3))
    paste: bool = True  # write the given pixels into the output exactly


@dataclass
class PromptEmbeds:
    embeds: torch.Tensor  # (B, L, D), or (2B, L, D) = [prompt; negative] when guided
    mask: torch.Tensor  # (B or 2B, L) bool
    guided: bool


@dataclass
class Conditions:
    cond_latents: torch.Tensor | None = None  # (B, C, t, h, w)
    cond_mask: torch.Tensor | None = None  # (B, 1, t, h, w)
    camera: torch.Tensor | None = None  # (B, t, 6)
    trajectory: torch.Tensor | None = None  # (B, 3 or 7, t, h, w): the transformer's map channels
    clean_latent_frames: int = 0  # leading latent frames to overwrite with cond_latents before decoding
    guide_trajectory: bool = False  # the negative half gets a zeroed map ("no map", as in training)

    def model_kwargs(self, guided: bool) -> dict[str, torch.Tensor | None]:
        """Keyword arguments for the DiT, repeated for the negative half of a guided batch."""
        names = ("cond_latents", "cond_mask", "camera", "trajectory")
        values = {n: getattr(self, n) for n in names}
        if guided:
            values = {
                n: None if v is None else torch.cat([v, self._unguided(n, v)]) for n, v in values.items()
            }
        return values

    def _unguided(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """The negative half's copy of a condition: the same, but no map where guidance aims at the map."""
        return torch.zeros_like(value) if name == "trajectory" and self.guide_trajectory else value


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1.0
    return x.permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """float (B, 3, T, H, W) in [-1, 1] → uint8 (B, T, H, W, 3)."""
    x = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).cpu().numpy()


class KinemaPipeline:
    """Text-to-video, and the steps every other task shares.

    >>> pipe = KinemaPipeline.from_pretrained("models/kinema-world")
    >>> video = pipe("a red ball bounces off the floor", seconds=2, seed=0).frames  # uint8 (1, T, H, W, 3)
    """

    task = "t2v"

    def __init__(
        self,
        vae: AutoencoderKinema,
        transformer: KinemaTransformer3DModel,
        text_encoder: TextEncoder,
        config: ModelFolderConfig | None = None,
    ) -> None:
        self.vae, self.transformer, self.text_encoder = vae, transformer, text_encoder
        self.config = config or ModelFolderConfig()
        if transformer.config.in_channels != vae.config.latent_channels:
            raise InvalidInputError(
                f"The DiT takes {transformer.config.in_channels} latent channels but the VAE makes "
                f"{vae.config.latent_channels}; pair a DiT with the VAE it was trained on."
            )
        if getattr(text_encoder, "dim", transformer.config.text_dim) != transformer.config.text_dim:
            raise InvalidInputError(
                f"The text encoder gives {text_encoder.dim}-dim embeddings but the DiT reads "
                f"{transformer.config.text_dim}; set the text encoder the model was trained with in kinema.json."
            )

    # ----- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> KinemaPipeline:
        """Load a model folder (kinema.json + vae/ + transformer/, see model_folder.py)."""
        vae, transformer, text_encoder, config = load_model_folder(path, device, dtype)
        return cls(vae, transformer, text_encoder, config)

    @classmethod
    def from_pipe(cls, pipe: KinemaPipeline) -> KinemaPipeline:
        """Another task over the same loaded components (no copy)."""
        return cls(pipe.vae, pipe.transformer, pipe.text_encoder, pipe.config)

    def to(self, device: str | torch.device) -> KinemaPipeline:
        self.vae.to(device)
        self.transformer.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def requires_prompt(self) -> bool:
        return TASKS[self.task].requires_prompt

    @property
    def defaults(self) -> ModelDefaults:
        """The model's sampling defaults (its kinema.json): what a request leaves unset becomes."""
        return ModelDefaults(**{f.name: getattr(self.config, f.name) for f in fields(ModelDefaults)})

    @property
    def size_rules(self) -> SizeRules:
        c = self.config
        return SizeRules(
            native_width=c.width,
            native_height=c.height,
            native_frames=c.num_frames,
            max_frames=c.max_frames,
            multiple=self.vae.config.spatial_compression * self.transformer.config.patch_size[1],
            temporal_compression=self.vae.config.temporal_compression,
            max_pixels=c.max_pixels,
        )

    # ----- 1. the request ----------------------------------------------------------------------------
    def make_request(
        self,
        prompt: str | Sequence[str] | None,
        options: Mapping[str, Any],
        like: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> Request:
        """Check the options and fill in the model's defaults. `like` = (width, height) of a given image or
        video: its size is kept when the model can make it, else the closest aspect preset is used."""
        try:
            opts = GenerationOptions(**options)
        except TypeError:
            known = ", ".join(f.name for f in fields(GenerationOptions))
            unknown = sorted(set(options) - {f.name for f in fields(GenerationOptions)})
            raise InvalidInputError(f"Unknown option(s) {unknown} for {self.task}; known: {known}.") from None
        return resolve_request(
            self.size_rules, self.defaults, self._prompts(prompt), like=like, source_fps=fps, **vars(opts)
        )

    def _prompts(self, prompt: str | Sequence[str] | None) -> list[str]:
        prompts = [prompt or ""] if prompt is None or isinstance(prompt, str) else [p or "" for p in prompt]
        if not prompts:
            raise InvalidInputError("The prompt list is empty; give at least one prompt.")
        if self.requires_prompt and not all(p.strip() for p in prompts):
            raise InvalidInputError(f"{self.task} needs a prompt: describe the video to make.")
        return prompts

    def read_image(self, image: Any) -> np.ndarray:
        """A path, bytes, PIL image or uint8 (H, W, 3) array → uint8 (H, W, 3) (`kinema.runtime.media`)."""
        return media.read_image(image)

    def fit_frames(self, frames: np.ndarray, size: VideoSize) -> np.ndarray:
        """uint8 (n, H', W', 3) → (n, H, W, 3) of the output size (cover-resize and centre-crop)."""
        return media.fit_frames(frames, size.width, size.height)

    def read_video_frames(
        self, video: Any, limit: int | None = None
    ) -> tuple[Iterator[np.ndarray], float, tuple[int, int]]:
        """(frame iterator of uint8 (H, W, 3), fps, (width, height)) of an MP4 path or a uint8 (T, H, W, 3)
        array; decoding is lazy so only what is used is held in memory."""
        return media.open_video(video, self.config.fps, limit)

    # ----- 2. the prompt -------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_prompt(self, request: Request) -> PromptEmbeds:
        """Prompt (and negative prompt, for guidance > 1) → embeddings in one text-encoder call."""
        guided = request.guidance_scale > 1.0
        texts = request.prompts + (request.negative_prompts if guided else [])
        embeds, mask = self.text_encoder.encode(texts, max_length=self.config.max_text_length)
        dtype = next(self.transformer.parameters()).dtype
        return PromptEmbeds(embeds.to(self.device, dtype), mask.to(self.device), guided)  # (B or 2B, L, D)

    # ----- 3. conditions -------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) (T = 1 + 4k) → normalised latents (1, C, t, h, w) (posterior mode)."""
        x = frames_to_tensor(frames[None]).to(self.device)  # (1, 3, T, H, W)
        return self.vae.normalize(self.vae.encode(x).mode())  # (1, C, t, h, w)

    def latent_index(self, frame: int) -> int:
        """The latent frame that holds pixel frame `frame` (0 alone, then groups of 4)."""
        c = self.vae.config.temporal_compression
        return (frame + c - 1) // c

    @torch.no_grad()
    def prepare_conditions(self, request: Request, given: GivenFrames | None) -> Conditions:
        size, batch = request.size, request.batch_size
        C, t, h, w = self.vae.latent_shape(size.num_frames, size.height, size.width)
        cond = Conditions()
        if given is not None and (given.start is not None or given.later):
            cond_latents = torch.zeros(1, C, t, h, w, device=self.device)
            cond_mask = torch.zeros(1, 1, t, h, w, device=self.device)
            if given.start is not None:
                z = self.encode_frames(given.start)  # (1, C, n, h, w)
                cond_latents[:, :, : z.shape[2]] = z
                cond_mask[:, :, : z.shape[2]] = 1.0
                cond.clean_latent_frames = z.shape[2]
            for frame, image in given.later:
                j = self.latent_index(frame)
                cond_latents[:, :, j] = self.encode_frames(image[None])[:, :, 0]  # a lone image latent
                cond_mask[:, :, j] = 1.0
            dtype = next(self.transformer.parameters()).dtype
            cond.cond_latents = cond_latents.expand(batch, -1, -1, -1, -1).to(dtype)
            cond.cond_mask = cond_mask.expand(batch, -1, -1, -1, -1).to(dtype)
        cond.camera = camera_vector(request.camera_control, t, batch)
        if cond.camera is not None:
            cond.camera = cond.camera.to(self.device)
        if request.trajectories is not None:
            trajectories = request.trajectories
            if isinstance(trajectories, (str, Path, Mapping)):
                trajectories = load_trajectories(trajectories)
            channels = self.transformer.trajectory_map_channels
            if channels >= MAP_CHANNELS_WITH_LOOKS and isinstance(trajectories, (list, tuple)):
                if len(set(request.prompts)) == 1:  # a user's paths: their looks from the prompt
                    trajectories = looks_from_prompt(
                        trajectories,
                        request.prompts[0],
                        size.width,
                        size.height,
                        size.num_frames,
                        request.fps,
                    )
            traj = rasterize_trajectories(
                trajectories,
                size.num_frames,
                size.height,
                size.width,
                latent_size=(t, h, w),
                fps=request.fps,
                temporal_compression=self.vae.config.temporal_compression,
                spatial_compression=self.vae.config.spatial_compression,
                channels=channels,
            )  # (1 or B, 3, 7 or 11, t, h, w)
            cond.trajectory = traj.expand(batch, -1, -1, -1, -1).to(self.device)
            cond.guide_trajectory = request.guide_trajectory
        return cond

    # ----- 4. timesteps and initial latents ------------------------------------------------------------
    def prepare_timesteps(self, request: Request, strength: float = 1.0) -> tuple[Any, torch.Tensor, float]:
        """(scheduler, timesteps to run, sigma of the first one). strength < 1 skips the noisiest steps
        (video-to-video, like diffusers' img2img)."""
        scheduler = make_scheduler(request.sampler, shift=request.shift)
        scheduler.set_timesteps(request.num_inference_steps, device=self.device)
        run = min(request.num_inference_steps, max(1, int(round(request.num_inference_steps * strength))))
        start = (request.num_inference_steps - run) * scheduler.order
        timesteps = scheduler.timesteps[start:]
        if start:
            scheduler.set_begin_index(start)
        return scheduler, timesteps, float(scheduler.sigmas[start])

    def prepare_latents(
        self, request: Request, sigma: float = 1.0, init_latents: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Noise (B, C, t, h, w); with `init_latents`, those noised to `sigma`: (1 − σ)·x0 + σ·ε."""
        size = request.size
        shape = (request.batch_size, *self.vae.latent_shape(size.num_frames, size.height, size.width))
        noise = torch.randn(
            shape, generator=request.generator, dtype=torch.float32
        )  # CPU draw: same on every device
        noise = noise.to(self.device)
        if init_latents is None:
            return noise
        return (1.0 - sigma) * init_latents.float() + sigma * noise  # (B, C, t, h, w)

    # ----- 5. denoising --------------------------------------------------------------------------------
    @torch.no_grad()
    def denoise(
        self,
        latents: torch.Tensor,
        scheduler: Any,
        timesteps: torch.Tensor,
        text: PromptEmbeds,
        cond: Conditions,
        request: Request,
        progress: Progress,
    ) -> torch.Tensor:
        """The sampling loop: one DiT forward per step over [prompt; negative], guidance, scheduler step."""
        dtype = next(self.transformer.parameters()).dtype
        b = latents.shape[0]
        lo, hi = request.guidance_interval
        kwargs = {guided: cond.model_kwargs(guided) for guided in {False, text.guided}}
        for t in timesteps:
            sigma = float(t) / scheduler.config.num_train_timesteps
            guided = text.guided and lo <= sigma <= hi  # outside the interval: the prompt half alone
            model_in = torch.cat([latents, latents]) if guided else latents  # (B or 2B, C, t, h, w)
            velocity = self.transformer(
                model_in.to(dtype),
                t.expand(model_in.shape[0]).to(dtype),
                text.embeds if guided else text.embeds[:b],
                encoder_attention_mask=text.mask if guided else text.mask[:b],
                **kwargs[guided],
            ).float()  # (B or 2B, C, t, h, w)
            if guided:
                v_prompt, v_negative = velocity.chunk(2)
                velocity = apply_guidance(v_prompt, v_negative, request.guidance_scale)
            latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
            progress.advance("denoise")
        return latents

    # ----- 6. decoding ---------------------------------------------------------------------------------
    def decode_units(self, request: Request) -> int:
        t = self.vae.latent_shape(request.size.num_frames, request.size.height, request.size.width)[1]
        return math.ceil(t / request.decode_chunk_frames)

    @torch.no_grad()
    def decode(
        self,
        latents: torch.Tensor,
        cond: Conditions,
        given: GivenFrames | None,
        request: Request,
        progress: Progress,
    ) -> Iterator[np.ndarray]:
        """Yield uint8 (B, n, H, W, 3) chunks in order: causal VAE decode, given frames pasted back."""
        if cond.clean_latent_frames:
            n = cond.clean_latent_frames
            latents = latents.clone()
            latents[:, :, :n] = cond.cond_latents[:, :, :n].float()
        z = self.vae.denormalize(latents.float())
        offset = 0
        for pixels in self.vae.iter_decode(z, request.decode_chunk_frames):  # (B, 3, n, H, W)
            frames = tensor_to_frames(pixels)  # (B, n, H, W, 3)
            if given is not None and given.paste:
                self.paste_frames(frames, given, offset)
            offset += frames.shape[1]
            progress.advance("decode")
            yield frames

    @staticmethod
    def paste_frames(frames: np.ndarray, given: GivenFrames, offset: int) -> None:
        """Write the given frames that fall in this chunk (frames offset … offset + n) in place."""
        n = frames.shape[1]
        if given.start is not None and offset < len(given.start):
            end = min(n, len(given.start) - offset)
            frames[:, :end] = given.start[offset : offset + end]
        for frame, image in given.later:
            if offset <= frame < offset + n:
                frames[:, frame - offset] = image

    # ----- the steps together --------------------------------------------------------------------------
    def generate(
        self,
        request: Request,
        given: GivenFrames | None = None,
        init_latents: torch.Tensor | None = None,
        strength: float = 1.0,
        text: PromptEmbeds | None = None,
        progress: Progress | None = None,
        sink: FrameSink | None = None,
    ) -> VideoPipelineOutput:
        """Steps 2–6 for a resolved request. With `sink`, frames (batch 1) go there chunk by chunk."""
        # 2. prompt
        text = text or self.encode_prompt(request)
        # 3. conditions
        cond = self.prepare_conditions(request, given)
        # 4. timesteps and initial latents
        scheduler, timesteps, sigma = self.prepare_timesteps(request, strength)
        latents = self.prepare_latents(request, sigma, init_latents)
        progress = progress or Progress(request.callback, len(timesteps) + self.decode_units(request))
        # 5. denoise
        latents = self.denoise(latents, scheduler, timesteps, text, cond, request, progress)
        # 6. decode (and stream)
        chunks = []
        for frames in self.decode(latents, cond, given, request, progress):
            if sink is not None:
                sink(frames[0])
            else:
                chunks.append(frames)
        video = np.concatenate(chunks, axis=1) if chunks else None  # (B, T, H, W, 3)
        return VideoPipelineOutput(
            frames=video,
            fps=request.fps,
            num_frames=request.size.num_frames,
            latents=latents if request.return_latents else None,
        )

    def __call__(self, prompt: str | Sequence[str], **options: Any) -> VideoPipelineOutput:
        """Text → video. Options: see `GenerationOptions` (size, duration, steps, guidance, seed, callback,
        camera_control, trajectories…)."""
        # 1. request
        request = self.make_request(prompt, options)
        # 2–6. prompt, conditions, latents, denoise, decode
        return self.generate(request)


class TextToVideoPipeline(KinemaPipeline):
    """Text → video: `KinemaPipeline` under its task name."""

    task = "t2v"
