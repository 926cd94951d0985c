"""`kinema generate`: every generation mode from the command line: the flags become one `GenerationSpec`
and the model folder's backend (`kinema.backends`) makes and writes the result.

    kinema generate "a red ball bounces off the floor" --out ball.mp4               text → video
    kinema generate "a red ball" --out ball.png                                      text → image
    kinema generate "it rolls away" --image first.png [--last-image last.png]        image / keyframes → video
    kinema generate "it keeps rolling" --extend ball.mp4 --seconds 180               extend (streamed)
    kinema generate "in watercolour" --video ball.mp4 --strength 0.6                 video → video
    ... --camera zoom=-5 | --camera-preset forward_up[:fast]  --trajectory path.json  (camera, motion brush)

The result is an H.264 MP4 (or PNG/JPEG for an image) carrying the AIGC label and a signed C2PA content
credential (the installation's key, made on first use in --data-dir; --no-sign for none), as `kinema serve`
writes them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from kinema.errors import InvalidInputError
from kinema.runtime.tasks import IMAGE_SUFFIXES, TASKS

DATA_DIR_ENV = "KINEMA_DATA_DIR"  # the server's setting of the same name (ServeSettings.data_dir)


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "generate", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "prompt", nargs="?", default=None, help="what to show (optional for --image / --extend)"
    )
    parser.add_argument(
        "--model",
        help="model folder or Hugging Face Hub id org/name[@revision] (default: the shipped "
        "models/kinema-world-v1, or $KINEMA_MODEL)",
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("kinema.mp4"), help="output .mp4, or .png/.jpg for an image"
    )
    parser.add_argument("--thumbnail", type=Path, help="also write a labelled PNG/JPEG thumbnail here")
    mode = parser.add_argument_group("mode (default: text → video)")
    mode.add_argument("--image", help="first frame (image → video)")
    mode.add_argument("--last-image", help="last frame (keyframes → video; needs --image)")
    mode.add_argument(
        "--keyframe",
        action="append",
        default=[],
        metavar="SECONDS=IMAGE",
        help="an in-between keyframe (repeatable)",
    )
    mode.add_argument(
        "--extend", type=Path, metavar="VIDEO", help="continue this MP4 by --seconds / --frames"
    )
    mode.add_argument(
        "--crossfade",
        type=int,
        default=0,
        metavar="N",
        help="with --extend: fade N frames across each chunk seam",
    )
    mode.add_argument("--video", type=Path, metavar="VIDEO", help="remix this MP4 (video → video)")
    mode.add_argument("--strength", type=float, help="remix strength, (0, 1] (default: the model's, 0.7)")
    motion = parser.add_argument_group("motion")
    motion.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="AXIS=VALUE",
        help="camera axis in -10..10: horizontal, vertical, pan, tilt, roll, zoom (repeatable or comma list)",
    )
    motion.add_argument(
        "--camera-preset", metavar="NAME[:SPEED]", help="down_back, forward_up, zoom_in:fast, ..."
    )
    motion.add_argument("--trajectory", type=Path, metavar="FILE", help="motion-brush paths (JSON)")
    motion.add_argument(
        "--physics",
        action="store_true",
        help="physics-grounded: the world simulator decides the motion from the prompt (and --image / "
        "--extend frames), the model draws it",
    )
    motion.add_argument(
        "--physics-candidates",
        type=int,
        default=1,
        metavar="N",
        help="with --physics: draw N videos in one batch, keep the one closest to the simulation",
    )
    provenance = parser.add_argument_group(
        "provenance (the AIGC metadata label and a signed C2PA credential are always written)"
    )
    provenance.add_argument(
        "--visible-label", action="store_true", help='burn the visible "AI生成 / AI-generated" mark in'
    )
    provenance.add_argument(
        "--sign",
        action="store_true",
        help="sign a C2PA content credential into the output and the thumbnail: the default (the "
        "installation's key in --data-dir, made on first use, or --c2pa-cert/--c2pa-key)",
    )
    provenance.add_argument(
        "--no-sign", action="store_true", help="write no C2PA credential (the AIGC label is still written)"
    )
    provenance.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the signing key lives (default ${DATA_DIR_ENV}, else kinema-data, as `kinema serve`)",
    )
    provenance.add_argument("--c2pa-cert", type=Path, help="your signing certificate chain (PEM)")
    provenance.add_argument("--c2pa-key", type=Path, help="its private key (PEM)")
    size = parser.add_argument_group("size and length")
    size.add_argument("--aspect", help="16:9, 9:16, 1:1, 4:3, 3:4 or 21:9 at the model's native area")
    size.add_argument("--width", type=int)
    size.add_argument("--height", type=int)
    size.add_argument("--seconds", type=float, help="duration (for --extend: the length to add)")
    size.add_argument("--frames", type=int, help="frame count, 1 + 4k (for --extend: frames to add)")
    size.add_argument("--fps", type=float, help="output frame rate (default: the model's / the source's)")
    size.add_argument(
        "--upscale",
        type=int,
        choices=(1, 2),
        help="2: generate at half the size, upsample ×2 in latent space and refine (LTX-2 / LTX-Video "
        "folders with a latent_upsampler/)",
    )
    size.add_argument(
        "--audio",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--audio: the video must have sound (a model that makes it, e.g. LTX-2); --no-audio: none "
        "(default: sound when the model makes it; an extension keeps its source's)",
    )
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    sampling.add_argument(
        "--guidance", type=float, help="classifier-free guidance scale (default: the model's)"
    )
    sampling.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="guide only at noise levels LOW..HIGH (0-1, 1 = pure noise; default: the model's)",
    )
    sampling.add_argument(
        "--guide-trajectory",
        action=argparse.BooleanOptionalAction,
        help="with a trajectory map (--physics, --trajectory): guide towards the map as well as the prompt "
        "(default: the model's)",
    )
    sampling.add_argument("--negative-prompt", help="what not to show")
    sampling.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sampling.add_argument("--sampler", choices=("euler", "unipc"), help="scheduler (default: the model's)")
    add_load_arguments(parser)
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """Memory and speed options of diffusers model folders (Wan, LTX-Video, ...), each one diffusers call
    (`kinema.backends.diffusers_base.LoadOptions`)."""
    load = parser.add_argument_group("memory and speed (diffusers model folders)")
    load.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="weights and compute precision")
    load.add_argument(
        "--offload",
        choices=("model", "sequential", "group"),
        help="keep weights off the accelerator until needed (model/sequential need one; group works anywhere)",
    )
    load.add_argument("--offload-dir", type=Path, metavar="DIR", help="with --offload group: offload to disk")
    load.add_argument("--vae-tiling", action="store_true", help="decode in tiles (less memory at the end)")
    load.add_argument("--fp8", action="store_true", help="store transformer weights in fp8 (accelerators)")
    load.add_argument(
        "--cache", choices=("fbc", "pab", "taylorseer"), help="step cache: First-Block Cache, PAB, TaylorSeer"
    )
    load.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    load.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="PATH[:SCALE]",
        help="LoRA adapter: a file or a hub id org/name[@revision] (repeatable; needs peft)",
    )
    load.add_argument(
        "--transformer",
        type=Path,
        metavar="FILE",
        help="a single-file transformer checkpoint (.safetensors or .gguf) over --model's other components",
    )
    load.add_argument(
        "--quantize",
        metavar="KIND[:COMPONENT,...]",
        help="weight-only quantization through diffusers: int8 | fp8 (torchao, any device), nf4 | bnb-int8 "
        "(bitsandbytes, CUDA); default components transformer(s) + text encoder(s), e.g. int8:transformer",
    )
    load.add_argument(
        "--memory",
        metavar="auto|SIZE",
        help="plan dtype/quantization/offload/VAE tiling to fit this memory (e.g. 8GB; auto: the device's "
        "free memory) and print the plan; options given by hand are kept",
    )
    load.add_argument(
        "--context-parallel",
        choices=("ulysses", "ring"),
        help="split attention over the GPUs of `torchrun --nproc-per-node N` (one GPU per process)",
    )


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """The memory/speed flags as `load_backend` options (unset ones left out)."""
    from kinema.backends.diffusers_base import LoadOptions

    options = {
        "dtype": args.dtype,
        "offload": args.offload,
        "offload_dir": args.offload_dir,
        "vae_tiling": args.vae_tiling,
        "fp8": args.fp8,
        "cache": args.cache,
        "compile": args.compile,
        "loras": tuple(LoadOptions.parse_lora(item) for item in args.lora),
        "context_parallel": args.context_parallel,
        "transformer": args.transformer,
        "quantize": args.quantize,
        "memory": args.memory,
    }
    return {k: v for k, v in options.items() if v not in (None, False, ())}


def planned_options(model: Path, args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    """`--memory`: the plan for this request's size (the flags', else the model's native), printed to
    stderr, its options over the hand-given ones (which the plan kept fixed)."""
    from dataclasses import asdict

    from kinema.backends.diffusers_base import LoadOptions
    from kinema.backends.hub import resolve_model
    from kinema.backends.loader import backend_class
    from kinema.backends.memory import apply_plan, fixed_options, plan_for_folder

    model = resolve_model(model, options.get("dtype")).path  # a hub id: its snapshot in the cache
    if backend_class(model).name == "kinema":
        raise InvalidInputError(
            "--memory plans diffusers model folders; Kinema's own models are small enough to load as they are: "
            "drop --memory."
        )
    load = LoadOptions(**options)
    plan = plan_for_folder(
        model, load.memory, args.device, load.dtype, args.width, args.height, args.frames, fixed_options(load)
    )
    print(plan.table(), file=sys.stderr)
    planned = asdict(apply_plan(plan, load))
    defaults = asdict(LoadOptions())
    return {k: v for k, v in planned.items() if v != defaults[k]}


def choose_task(args: argparse.Namespace) -> str:
    """The pipeline task the flags ask for; InvalidInputError for combinations that make no sense."""
    to_image = args.out.suffix.lower() in IMAGE_SUFFIXES
    sources = [name for name in ("image", "extend", "video") if getattr(args, name)]
    if len(sources) > 1:
        raise InvalidInputError(f"--{sources[0]} and --{sources[1]} are different modes; give one of them.")
    if (args.last_image or args.keyframe) and not args.image:
        raise InvalidInputError("--last-image and --keyframe need --image (the first frame).")
    if to_image:
        if (
            sources
            or args.seconds
            or args.frames not in (None, 1)
            or args.camera
            or args.camera_preset
            or args.trajectory
        ):
            raise InvalidInputError(
                f"{args.out.name} is an image file: only text → image writes images; use an .mp4 --out for video modes."
            )
        return "t2i"
    if args.extend:
        return "extend"
    if args.video:
        return "v2v"
    if args.image:
        return "keyframes" if args.last_image or args.keyframe else "i2v"
    if not args.prompt:
        raise InvalidInputError(
            'Text → video needs a prompt, e.g. kinema generate "a red ball bounces" --out ball.mp4.'
        )
    return "t2v"


def progress_bar(quiet: bool):
    """A callback(step, total, stage) that drives one tqdm bar over denoising and decoding."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def callback(step: int, total: int, stage: str) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, unit="step", file=sys.stderr)
        bar.set_description(stage)
        bar.update(step - bar.n)

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return callback, close


def _keyframes(items: list[str]) -> list[tuple[float, str]]:
    out = []
    for item in items:
        seconds, sep, path = item.partition("=")
        try:
            out.append((float(seconds), path))
        except ValueError:
            sep = ""
        if not sep or not path:
            raise InvalidInputError(f"--keyframe {item!r} must look like SECONDS=IMAGE, e.g. 2.5=middle.png.")
    return out


def build_spec(args: argparse.Namespace, callback: Any = None, signing: Any = None) -> Any:
    """The flags as one GenerationSpec (the same request type the server and the evaluators send)."""
    from kinema.backends import GenerationSpec
    from kinema.io import VisibleLabel
    from kinema.pipelines.camera import camera_control_from_args
    from kinema.pipelines.trajectories import load_trajectories

    task = choose_task(args)
    source = args.extend or args.video
    return GenerationSpec.parse(
        task=task,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        width=args.width,
        height=args.height,
        aspect_ratio=args.aspect,
        num_frames=args.frames if TASKS[task].motion else None,
        seconds=args.seconds,
        fps=args.fps,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        guidance_interval=args.guidance_interval,
        guide_trajectory=args.guide_trajectory,
        sampler=args.sampler,
        seed=args.seed,
        image=args.image,
        last_image=args.last_image,
        keyframes=_keyframes(args.keyframe),
        video=str(source) if source else None,
        strength=args.strength,
        crossfade_frames=args.crossfade,
        camera_control=camera_control_from_args(args.camera, args.camera_preset),
        trajectories=load_trajectories(args.trajectory) if args.trajectory else None,
        physics=args.physics,
        physics_candidates=args.physics_candidates,
        audio=args.audio,
        upscale=args.upscale,
        output_path=args.out,
        visible_label=VisibleLabel() if args.visible_label else None,
        signing=signing,
        callback=callback,
    )


def data_dir(args: argparse.Namespace) -> Path:
    """--data-dir, else $KINEMA_DATA_DIR, else kinema-data: the folder `kinema serve` keeps its key in."""
    if args.data_dir is not None:
        return args.data_dir
    return Path(os.environ.get(DATA_DIR_ENV) or "kinema-data")


def signing_identity(args: argparse.Namespace) -> Any:
    """The C2PA signing identity every output is signed with (None with --no-sign): the operator's
    --c2pa-cert/--c2pa-key, else the installation's key in the data dir, made on first use."""
    if args.no_sign:
        if args.sign or args.c2pa_cert or args.c2pa_key:
            raise InvalidInputError(
                "--no-sign writes no credential; drop it, or drop --sign/--c2pa-cert/--c2pa-key."
            )
        return None
    from kinema.io import load_signing_identity

    return load_signing_identity(data_dir(args), args.c2pa_cert, args.c2pa_key)


def run(args: argparse.Namespace) -> int:
    from kinema.backends import load_backend
    from kinema.io import write_thumbnail
    from kinema.pipelines.model_config import default_model_path
    from kinema.runtime.output import Signature, finish_file

    choose_task(args)  # flag mistakes (and a bad certificate) are reported before the model loads
    signing = signing_identity(args)
    model = args.model or default_model_path()
    options = load_options(args)
    if options.get("memory"):
        options = planned_options(model, args, options)
    backend = load_backend(model, device=args.device, **options)
    callback, close_bar = progress_bar(args.quiet)
    try:
        out = backend.generate(build_spec(args, callback, signing))
    finally:
        close_bar()
    if "physics" in out.info:
        print(f"physics: {out.info['physics']}", file=sys.stderr)
    if args.thumbnail:  # a still of the output, signed with the output as its parent (as the server's)
        write_thumbnail(args.out, args.thumbnail)
        finish_file(args.thumbnail, signing and Signature(signing, "thumbnail", ingredients=(args.out,)))
    if "audio" in out.info:
        print(f"audio: {out.info['audio']}", file=sys.stderr)
    sound = f", sound at {out.audio_rate} Hz" if out.has_audio else ""
    print(f"wrote {args.out} ({out.num_frames} frame{'s' * (out.num_frames != 1)} at {out.fps:g} fps{sound})")
    return 0
