"""Single-file transformer checkpoints as users hold them: the original Wan release's key names with
ComfyUI's `model.diffusion_model.` prefix, as `.safetensors` or as `.gguf` (the GGUF community format:
Q8_0 where a row splits into 32-value blocks, F32 elsewhere), written from a tiny diffusers transformer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# diffusers' names → the original Wan release's (the inverse of diffusers' convert_wan_transformer_to_diffusers)
_TO_ORIGINAL = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    (".attn1.", ".self_attn."),
    (".attn2.", ".cross_attn."),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".ffn.net.0.proj.", ".ffn.0."),
    (".ffn.net.2.", ".ffn.2."),
    (".norm2.", ".norm3."),  # the cross-attention norm: norm3 in the release, norm2 in diffusers
)


def original_wan_key(key: str) -> str:
    for new, old in _TO_ORIGINAL:
        key = key.replace(new, old)
    if key == "scale_shift_table":
        key = "head.modulation"
    elif key.endswith(".scale_shift_table"):
        key = key.replace(".scale_shift_table", ".modulation")
    elif key.startswith("proj_out."):
        key = key.replace("proj_out.", "head.head.")
    return "model.diffusion_model." + key


def original_wan_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {original_wan_key(k): v.contiguous() for k, v in state.items()}


def write_gguf(state: dict[str, torch.Tensor], path: Path) -> Path:
    """The state dict as a GGUF file: Q8_0 for matrices whose rows split into 32-value blocks, F32 else."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch="wan")
    for name, tensor in state.items():
        array = tensor.float().numpy()
        if array.ndim == 2 and array.shape[-1] % 32 == 0:
            q = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
