"""Quantized weights through diffusers' own configs: `--quantize KIND[:COMPONENT,...]` becomes one
`PipelineQuantizationConfig` passed to `from_pretrained`, and a `.gguf` checkpoint's own quantization a
`GGUFQuantizationConfig` passed to `from_single_file`.

    int8       torchao int8 weight-only (`Int8WeightOnlyConfig`): runs on the CPU and on GPUs
    fp8        torchao float8 (e4m3) weight-only (`Float8WeightOnlyConfig`): runs on the CPU and on GPUs
    nf4        bitsandbytes 4-bit NormalFloat (`BitsAndBytesConfig(load_in_4bit=True)`): CUDA only
    bnb-int8   bitsandbytes LLM.int8() (`BitsAndBytesConfig(load_in_8bit=True)`): CUDA only

Weight-only quantization stores each `nn.Linear` weight in the narrow type and computes in the pipeline's
dtype, so the frames stay close to the unquantized model's (tests/backends/test_quantize.py states the
tolerance). By default the denoiser(s) and the text encoder(s) are quantized — they hold almost all the
bytes of a video model (Wan2.1-14B: 14B transformer, 5.7B umT5; the VAE is 0.13B and its convolutions
are not `nn.Linear`) — and `:transformer` or `:text_encoder` narrows it to one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinema.errors import InvalidInputError, MissingDependencyError

# kind → (library, what it needs, bytes per quantized weight: what the memory plan counts)
QUANT_KINDS: dict[str, tuple[str, str, float]] = {
    "int8": ("torchao", "any device", 1.0),
    "fp8": ("torchao", "any device", 1.0),
    "nf4": ("bitsandbytes", "a CUDA GPU", 0.5 + 4 / 64),  # 4 bits + one fp32 absmax per 64 weights
    "bnb-int8": ("bitsandbytes", "a CUDA GPU", 1.0 + 4 / 4096),  # int8 + a per-row fp32 scale (rows ~4096)
}
DEFAULT_COMPONENTS = ("transformer", "transformer_2", "text_encoder", "text_encoder_2")


@dataclass(frozen=True)
class Quantization:
    """A parsed `--quantize`: the kind and the pipeline components it applies to."""

    kind: str
    components: tuple[str, ...] = DEFAULT_COMPONENTS

    @classmethod
    def parse(cls, text: str) -> Quantization:
        """`KIND[:COMPONENT,...]`, e.g. `int8`, `nf4:transformer`, `fp8:transformer,text_encoder`."""
        kind, _, names = str(text).partition(":")
        if kind not in QUANT_KINDS:
            raise InvalidInputError(
                f"quantize={text!r}: {kind!r} is not one of {', '.join(QUANT_KINDS)}; pick one "
                "(optionally :transformer or :text_encoder)."
            )
        components = tuple(n.strip() for n in names.split(",") if n.strip()) if names else DEFAULT_COMPONENTS
        return cls(kind, components)

    @property
    def library(self) -> str:
        return QUANT_KINDS[self.kind][0]

    @property
    def bytes_per_weight(self) -> float:
        return QUANT_KINDS[self.kind][2]


def check_quantization(q: Quantization, accelerator: bool) -> None:
    """InvalidInputError / MissingDependencyError where this device or install cannot run `q` — before any
    weights are read."""
    from kinema.backends.diffusers_base import _require  # (no cycle: a function-level import)

    if q.library == "bitsandbytes":
        if not accelerator:
            raise InvalidInputError(
                f"--quantize {q.kind} is bitsandbytes, which runs on CUDA GPUs only; on the CPU use "
                "--quantize int8 or fp8 (torchao weight-only), or pass --device cuda."
            )
        _require("bitsandbytes", f"--quantize {q.kind}", "quantize")
    else:
        _require("torchao", f"--quantize {q.kind}", "quantize")


def _config(q: Quantization, library: str, dtype: Any) -> Any:
    """One component's quantization config, of diffusers' or transformers' class for that component."""
    if library == "diffusers":
        import diffusers as lib
    else:
        import transformers as lib
    if q.library == "torchao":
        from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig

        ao = Int8WeightOnlyConfig() if q.kind == "int8" else Float8WeightOnlyConfig()
        return lib.TorchAoConfig(ao)
    if q.kind == "nf4":
        return lib.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return lib.BitsAndBytesConfig(load_in_8bit=True)


def pipeline_quantization(q: Quantization, index: dict[str, Any], dtype: Any) -> Any:
    """diffusers' `PipelineQuantizationConfig` for a folder's `model_index.json`: each named component that
    the folder has, with the config class of the library that loads it (diffusers for the transformer,
    transformers for the text encoder). A named component the folder lacks is an error naming those it has."""
    from diffusers import PipelineQuantizationConfig

    present = {
        name: value[0]
        for name, value in index.items()
        if isinstance(value, list) and len(value) == 2 and value[0] in ("diffusers", "transformers")
    }
    explicit = q.components != DEFAULT_COMPONENTS
    unknown = [c for c in q.components if c not in present] if explicit else []
    if unknown:
        raise InvalidInputError(
            f"--quantize {q.kind}:{','.join(q.components)}: this model has no {', '.join(unknown)}; its "
            f"components are {', '.join(sorted(present))}."
        )
    mapping = {c: _config(q, present[c], dtype) for c in q.components if c in present}
    if not mapping:
        raise InvalidInputError(
            f"--quantize {q.kind}: this model has none of {', '.join(q.components)} to quantize."
        )
    return PipelineQuantizationConfig(quant_mapping=mapping)


def gguf_quantization(dtype: Any) -> Any:
    """A `.gguf` transformer's quantization for `from_single_file`: the weights stay in the file's own
    GGUF types and are dequantized per layer into `dtype` as they are used."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError(
            "GGUF checkpoints need the 'gguf' package: pip install 'kinema[quantize]' (or pip install gguf)."
        )
    from diffusers import GGUFQuantizationConfig

    return GGUFQuantizationConfig(compute_dtype=dtype)


def linear_bytes(model: Any) -> int:
    """Bytes of a model's nn.Linear weights as stored: a torchao-quantized weight counts its inner tensors
    (int8 / fp8 data and scales), a plain one its own. How `--quantize` is measured (tests, benchmarks)."""
    import torch

    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            w = module.weight
            inner = [
                getattr(w, n) for n in getattr(w, "tensor_data_names", ()) if getattr(w, n, None) is not None
            ]
            total += sum(t.numel() * t.element_size() for t in inner) or w.numel() * w.element_size()
    return total
