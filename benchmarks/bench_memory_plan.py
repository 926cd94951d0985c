"""The memory plan measured (issue 27): its estimate against the measured peak on every tiny backend on the
CPU, quantization's bytes and frames on the tiny backends, and the plans it picks for real models' configs.

Declared scenarios (each a table):
  tiny      every tiny family of tests/backends/tiny_diffusers.py (Wan, SkyReels-V2, LTX, CogVideoX,
            HunyuanVideo) at two request sizes (native, and 128x128x17): the plan's activation estimate
            (the components' code run on the meta device) against the measured high-water mark of live
            tensor bytes while the real backend generates (2 steps, fp32, CPU); target within 15 %.
  quantize  tiny Wan and LTX, torchao int8 / fp8 weight-only vs fp32: the transformer's and text encoder's
            nn.Linear bytes, the measured peak, the frames' mean / max difference in levels of 255.
  real      Wan2.1-T2V-1.3B and 14B, Wan2.2-T2V-A14B, LTX-Video 0.9, HunyuanVideo, CogVideoX-5B from their
            published configs (written below, no weights: built on the meta device) at each model's native
            request, bf16 on CUDA: weights, the as-is peak, and the plan chosen for 8, 12, 16, 24 and 80 GB,
            beside what the model's own README says it needs.

    python benchmarks/bench_memory_plan.py                      # all three (about 10 minutes on 2 CPU cores)
    python benchmarks/bench_memory_plan.py --only real --json plans.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "backends"))

BUDGETS = (8, 12, 16, 24, 80)

# ---- real configs (the Hugging Face repos' config.json key numbers) ----------------------------------------
WAN_13B = dict(
    patch_size=[1, 2, 2],
    num_attention_heads=12,
    attention_head_dim=128,
    in_channels=16,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=8960,
    num_layers=30,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=1024,
)  # fmt: skip  (Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json)
WAN_14B = {
    **WAN_13B,
    "num_attention_heads": 40,
    "ffn_dim": 13824,
    "num_layers": 40,
}  # Wan2.1-T2V-14B, each A14B expert
UMT5_XXL = dict(
    vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
    feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, tie_word_embeddings=False,
)  # fmt: skip
T5_XXL = dict(
    vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
    feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, tie_word_embeddings=False,
)  # fmt: skip
COG_5B = dict(
    num_attention_heads=48,
    attention_head_dim=64,
    in_channels=16,
    out_channels=16,
    time_embed_dim=512,
    text_embed_dim=4096,
    num_layers=42,
    sample_width=90,
    sample_height=60,
    sample_frames=49,
    patch_size=2,
    temporal_compression_ratio=4,
    max_text_seq_length=226,
    use_rotary_positional_embeddings=True,
    use_learned_positional_embeddings=False,
    spatial_interpolation_scale=1.875,
)  # fmt: skip  (THUDM/CogVideoX-5b)
LLAVA_LLAMA3_8B = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=128320,
    max_position_embeddings=8192,
)  # fmt: skip  (hunyuanvideo-community/HunyuanVideo text_encoder)
CLIP_L = dict(
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, vocab_size=49408,
    max_position_embeddings=77, projection_dim=768,
)  # fmt: skip

# name → (pipeline, {component: (library, class, config)}, native request, what the model's README says)
REAL = {
    "Wan2.1-T2V-1.3B": ("WanPipeline", {
        "text_encoder": ("transformers", "UMT5EncoderModel", UMT5_XXL),
        "transformer": ("diffusers", "WanTransformer3DModel", WAN_13B),
        "vae": ("diffusers", "AutoencoderKLWan", {}),
    }, (832, 480, 81), "8.19 GB at 480p with --offload_model True --t5_cpu (RTX 4090)"),
    "Wan2.1-T2V-14B": ("WanPipeline", {
        "text_encoder": ("transformers", "UMT5EncoderModel", UMT5_XXL),
        "transformer": ("diffusers", "WanTransformer3DModel", WAN_14B),
        "vae": ("diffusers", "AutoencoderKLWan", {}),
    }, (1280, 720, 81), "no single number; OOM advice: --offload_model True --t5_cpu, or multi-GPU"),
    "Wan2.2-T2V-A14B": ("WanPipeline", {
        "text_encoder": ("transformers", "UMT5EncoderModel", UMT5_XXL),
        "transformer": ("diffusers", "WanTransformer3DModel", WAN_14B),
        "transformer_2": ("diffusers", "WanTransformer3DModel", WAN_14B),
        "vae": ("diffusers", "AutoencoderKLWan", {}),
    }, (1280, 720, 81), "80 GB for one GPU (with --offload_model True --convert_model_dtype --t5_cpu)"),
    "LTX-Video-0.9": ("LTXPipeline", {
        "text_encoder": ("transformers", "T5EncoderModel", T5_XXL),
        "transformer": ("diffusers", "LTXVideoTransformer3DModel", {}),  # the class defaults are LTX-Video 2B
        "vae": ("diffusers", "AutoencoderKLLTXVideo", {}),
    }, (704, 480, 161), "not stated"),
    "HunyuanVideo": ("HunyuanVideoPipeline", {
        "text_encoder": ("transformers", "LlamaModel", LLAVA_LLAMA3_8B),
        "text_encoder_2": ("transformers", "CLIPTextModel", CLIP_L),
        "transformer": ("diffusers", "HunyuanVideoTransformer3DModel", {}),  # class defaults: the 13B
        "vae": ("diffusers", "AutoencoderKLHunyuanVideo", {}),
    }, (1280, 720, 129), "60 GB at 1280x720x129, 45 GB at 960x544x129 (peak, no offload)"),
    "CogVideoX-5B": ("CogVideoXPipeline", {
        "text_encoder": ("transformers", "T5EncoderModel", T5_XXL),
        "transformer": ("diffusers", "CogVideoXTransformer3DModel", COG_5B),
        "vae": ("diffusers", "AutoencoderKLCogVideoX", {"scaling_factor": 0.7}),
    }, (720, 480, 49), "diffusers BF16 from 5 GB (sequential offload + VAE tiling); INT8 4.4 GB; SAT 26 GB"),
}  # fmt: skip


def config_folder(root: Path, name: str) -> Path:
    """model_index.json + each component's config.json, no weights: what `ModelMemory.read` reads."""
    import diffusers
    import transformers

    pipeline, components, _, _ = REAL[name]
    folder = root / name
    index: dict = {"_class_name": pipeline, "_diffusers_version": diffusers.__version__}
    for comp, (library, cls, config) in components.items():
        index[comp] = [library, cls]
        (folder / comp).mkdir(parents=True, exist_ok=True)
        if library == "diffusers":
            (folder / comp / "config.json").write_text(json.dumps({"_class_name": cls, **config}))
        else:
            config_cls = getattr(transformers, cls).config_class
            config_cls(**config).save_pretrained(folder / comp)
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def real_plans() -> list[dict]:
    from kinema.backends.memory import GB, ModelMemory, Request, format_bytes, make_plan

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, _, (w, h, t), readme) in REAL.items():
            start = time.perf_counter()
            model = ModelMemory.read(config_folder(Path(tmp), name), "bf16")
            request = Request(w, h, t)
            row = {
                "model": name, "request": str(request), "readme": readme,
                "weights_gb": sum(x.params for x in model.weights.values()) * 2 / GB,
                "params_b": {k: round(x.params / 1e9, 2) for k, x in model.weights.items()},
            }  # fmt: skip
            for budget in BUDGETS:
                plan = make_plan(model, request, budget * GB, "cuda", name)
                row["as_is_gb"] = plan.bare.peak / GB
                chosen = plan.chosen
                row[f"{budget}GB"] = (
                    f"{chosen.describe()}: {format_bytes(chosen.peak)}"
                    if chosen
                    else f"none fits (smallest {format_bytes(plan.smallest.peak)})"
                )
            row["seconds"] = round(time.perf_counter() - start, 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# ---- tiny backends ---------------------------------------------------------------------------------------------
def tiny_folders(root: Path) -> dict[str, Path]:
    import tiny_diffusers as td

    made = {
        "wan": td.wan_folder(root / "wan", "t2v"),
        "skyreels": td.skyreels_folder(root / "skyreels"),
        "ltx": td.ltx_folder(root / "ltx"),
        "cogvideox": td.cogvideox_folder(root / "cog"),
        "hunyuan": td.hunyuan_folder(root / "hunyuan"),
    }
    for folder in made.values():  # allow the larger request
        defaults = json.loads((folder / "kinema_defaults.json").read_text())
        defaults.update(max_pixels=256 * 256, max_frames=33)
        (folder / "kinema_defaults.json").write_text(json.dumps(defaults))
    return made


def measured(backend, w: int, h: int, t: int) -> tuple[int, object]:
    from kinema.backends import GenerationSpec
    from kinema.backends.memory import live_tensors

    spec = GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=0, width=w, height=h, num_frames=t)
    backend.generate(spec)  # warm
    with live_tensors() as live:
        frames = backend.generate(spec).frames
    return live.peak, frames


def tiny_estimates(folders: dict[str, Path]) -> list[dict]:
    from kinema.backends import load_backend
    from kinema.backends.memory import ModelMemory, Request

    rows = []
    for family, folder in folders.items():
        backend = load_backend(folder)
        memory = ModelMemory.read(folder, "fp32")
        f = backend.facts
        for w, h, t in ((f.width, f.height, f.num_frames), (128, 128, 17)):
            est = memory.activations(Request(w, h, t)).peak(tiled=False)
            peak, _ = measured(backend, w, h, t)
            row = {"family": family, "request": f"{w}x{h}x{t}", "estimate_mb": est / 2**20,
                   "measured_mb": peak / 2**20, "ratio": est / peak}  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def quantized(folders: dict[str, Path]) -> list[dict]:
    import numpy as np

    from kinema.backends import load_backend
    from kinema.backends.quantize import linear_bytes

    rows = []
    for family in ("wan", "ltx"):
        plain = load_backend(folders[family])
        f = plain.facts
        base_peak, base_frames = measured(plain, f.width, f.height, f.num_frames)
        base = plain.pipeline("t2v")
        for kind in ("int8", "fp8"):
            backend = load_backend(folders[family], quantize=kind)
            peak, frames = measured(backend, f.width, f.height, f.num_frames)
            pipe = backend.pipeline("t2v")
            diff = np.abs(frames.astype(int) - base_frames.astype(int))
            row = {
                "family": family, "quantize": kind,
                "transformer_linear_kb": (linear_bytes(base.transformer) / 1024, linear_bytes(pipe.transformer) / 1024),
                "text_encoder_linear_kb": (linear_bytes(base.text_encoder) / 1024, linear_bytes(pipe.text_encoder) / 1024),
                "peak_mb": (base_peak / 2**20, peak / 2**20),
                "frames_mean_diff": float(diff.mean()), "frames_max_diff": int(diff.max()),
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("tiny", "quantize", "real"), action="append")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    only = set(args.only or ("tiny", "quantize", "real"))
    import diffusers
    import torch

    out: dict = {"torch": torch.__version__, "diffusers": diffusers.__version__}
    if only & {"tiny", "quantize"}:
        with tempfile.TemporaryDirectory() as tmp:
            folders = tiny_folders(Path(tmp))
            if "tiny" in only:
                out["tiny"] = tiny_estimates(folders)
            if "quantize" in only:
                out["quantize"] = quantized(folders)
    if "real" in only:
        out["real"] = real_plans()
    print(f"\ntorch {out['torch']}, diffusers {out['diffusers']}, CPU")
    if "tiny" in out:
        print(
            "\n| tiny family | request | estimate MB | measured MB | estimate / measured |\n|---|---|---|---|---|"
        )
        for r in out["tiny"]:
            print(
                f"| {r['family']} | {r['request']} | {r['estimate_mb']:.2f} | {r['measured_mb']:.2f} | {r['ratio']:.3f} |"
            )
    if "quantize" in out:
        print(
            "\n| tiny family | quantize | transformer Linear KB | text encoder Linear KB | peak MB | frames mean / max diff |"
        )
        print("|---|---|---|---|---|---|")
        for r in out["quantize"]:
            t, e, p = r["transformer_linear_kb"], r["text_encoder_linear_kb"], r["peak_mb"]
            print(f"| {r['family']} | {r['quantize']} | {t[0]:.1f} → {t[1]:.1f} | {e[0]:.1f} → {e[1]:.1f} | "
                  f"{p[0]:.2f} → {p[1]:.2f} | {r['frames_mean_diff']:.3f} / {r['frames_max_diff']} |")  # fmt: skip
    if "real" in out:
        head = " | ".join(f"{b} GB" for b in BUDGETS)
        print(f"\n| model | request | weights (bf16) | as is | {head} | the model's README |")
        print("|---|---|---|---|" + "---|" * len(BUDGETS) + "---|")
        for r in out["real"]:
            cells = " | ".join(r[f"{b}GB"] for b in BUDGETS)
            print(
                f"| {r['model']} | {r['request']} | {r['weights_gb']:.1f} GB | {r['as_is_gb']:.1f} GB | {cells} | {r['readme']} |"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
