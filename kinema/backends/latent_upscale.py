"""`--upscale 2` for the LTX families (issue 28): generate at half the size, upsample the latents ×2 with the
folder's `latent_upsampler/` (diffusers' `LTXLatentUpsamplePipeline` / `LTX2LatentUpsamplePipeline`), then
refine them at the full size with a few denoising steps from part-way down the noise schedule — the two-stage
recipe of the LTX-Video 0.9.7 and LTX-2 model cards, the open path toward 1080p. The first stage costs a
quarter of the full size's tokens per step, and attention's cost grows with their square, so most of the
steps run ~10× cheaper; the refinement adds detail the upsampler cannot invent.

A folder gains the option by holding the upsampler's weights as a `latent_upsampler/` component (the
`latent_upsampler` folder of Lightricks' upscaler repositories, copied or linked in).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from kinema.backends.base import GenerationSpec, Output, wants_audio
from kinema.errors import InvalidInputError
from kinema.runtime.progress import Progress
from kinema.runtime.request import Request
from kinema.runtime.tasks import TASKS

UPSAMPLER_DIR = "latent_upsampler"
SCALE = 2


class LatentUpscale:
    """Mixin for a `DiffusersBackend` whose family has a latent upsampler: class data names the diffusers
    classes, `refine_inputs` the second stage's arguments."""

    upsample_pipeline: ClassVar[str]  # diffusers pipeline class (vae + latent_upsampler)
    upsampler_model: ClassVar[str]  # "module:Class" of `latent_upsampler/`'s diffusers model
    refine_task: ClassVar[str]  # the task whose pipeline refines the upsampled latents
    refine_steps: ClassVar[int] = 3  # denoising steps of the second stage (the model cards' distilled 3)

    @classmethod
    def folder_options(cls, path: Path) -> tuple[str, ...]:
        """`upscale` only where the folder holds the upsampler's weights (the API refuses it up front)."""
        options = super().folder_options(path)  # type: ignore[misc]
        if (Path(path) / UPSAMPLER_DIR / "config.json").is_file():
            return options
        return tuple(o for o in options if o != "upscale")

    def check(self, spec: GenerationSpec) -> None:
        super().check(spec)  # type: ignore[misc]
        if not spec.upscale:
            return
        if not (Path(self.path) / UPSAMPLER_DIR / "config.json").is_file():  # type: ignore[attr-defined]
            raise InvalidInputError(
                f"--upscale needs the latent upsampler's weights in {Path(self.path) / UPSAMPLER_DIR} "  # type: ignore[attr-defined]
                "(copy or link the latent_upsampler folder of the family's upscaler repository there); "
                "or drop --upscale."
            )
        if TASKS[spec.task].adds_length or TASKS[spec.task].output == "image":
            raise InvalidInputError(
                f"--upscale applies to one generation of a video; {TASKS[spec.task].title} cannot take it."
            )

    def upsampler(self) -> Any:
        """The upsample pipeline over the loaded VAE and the folder's upsampler (loaded once)."""
        if "upscale" not in self._pipes:  # type: ignore[attr-defined]
            import importlib

            import diffusers

            first = self.pipeline(self.refine_task)  # type: ignore[attr-defined]
            module, _, name = self.upsampler_model.partition(":")
            model_cls = getattr(importlib.import_module(module), name)
            model = model_cls.from_pretrained(
                Path(self.path) / UPSAMPLER_DIR,
                dtype=first.vae.dtype,
                local_files_only=True,  # type: ignore[attr-defined]
            ).to(first.vae.device)
            pipe = getattr(diffusers, self.upsample_pipeline)(vae=first.vae, latent_upsampler=model)
            pipe.set_progress_bar_config(disable=True)
            self._pipes["upscale"] = pipe  # type: ignore[attr-defined]
        return self._pipes["upscale"]  # type: ignore[attr-defined]

    def run(self, spec: GenerationSpec, output: Output) -> None:
        if not spec.upscale:
            super().run(spec, output)  # type: ignore[misc]
            return
        full = self.request(spec, output.fps, like=self._given_size(spec))  # type: ignore[attr-defined]
        multiple = self.facts.size_multiple  # type: ignore[attr-defined]
        width, height = full.size.width // SCALE, full.size.height // SCALE
        if width % multiple or height % multiple:
            raise InvalidInputError(
                f"--upscale {SCALE} generates at {width}x{height} first, which is off this model's "
                f"{multiple}-px grid; ask for a size that is a multiple of {SCALE * multiple} px."
            )
        half = replace(full, size=replace(full.size, width=width, height=height))
        progress = Progress(spec.callback, half.num_inference_steps + self.refine_steps + 2)
        # 1. the task's own pipeline at half the size, stopped at the latents
        inputs = self.task_inputs(spec.task, spec, half)  # type: ignore[attr-defined]
        latents, audio_latents = self.stage_one(spec.task, half, progress, inputs)
        # 2. ×2 in latent space
        upscaled = self.upsampler()(latents=latents, output_type="latent").frames
        # 3. a few steps at the full size from part-way down the schedule
        refine = replace(full, num_inference_steps=self.refine_steps)
        frames, audio = self.call_av(  # type: ignore[attr-defined]
            self.refine_task, refine, progress, **self.refine_inputs(upscaled, audio_latents)
        )
        if audio is not None and wants_audio(spec, self.makes_audio):  # type: ignore[attr-defined]
            output.write_audio(audio, self.audio_rate())  # type: ignore[attr-defined]
        output.write(frames)

    def stage_one(
        self, task: str, req: Request, progress: Progress, inputs: dict[str, Any]
    ) -> tuple[Any, Any]:
        """(video latents (B, C, t, h, w), audio latents or None) of the task's pipeline at `req`'s size."""
        import torch

        pipe = self.pipeline(task)  # type: ignore[attr-defined]
        kwargs = {**self.call_kwargs(req, req.size.num_frames), **inputs}  # type: ignore[attr-defined]
        kwargs = {k: v for k, v in kwargs.items() if k in self.accepted(pipe)}  # type: ignore[attr-defined]
        start = progress.step

        def on_step_end(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            progress.reach(start + i + 1, "denoising")
            return tensors

        with torch.no_grad():
            result = pipe(**kwargs, output_type="latent", callback_on_step_end=on_step_end)
        progress.reach(start + req.num_inference_steps + 1, "upscaling")
        return self.unpacked(pipe, result.frames, req), getattr(result, "audio", None)

    def unpacked(self, pipe: Any, latents: Any, req: Request) -> Any:
        """Stage one's latents as (B, C, t, h, w) (a family whose pipelines return them packed unpacks)."""
        return latents

    def refine_inputs(self, latents: Any, audio_latents: Any) -> dict[str, Any]:
        """The refining pipeline's arguments for the upsampled latents."""
        raise NotImplementedError
