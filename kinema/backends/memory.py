"""The memory plan: how a diffusers model folder fits the memory a device has, worked out before any
weight is read, and the fastest set of load options that fits (`kinema plan`, `--memory auto|SIZE`).

1. Weights: each component is built from its `config.json` on the meta device (no bytes allocated) for its
   structure — which parameters sit in `nn.Linear` layers (what weight-only quantization narrows), its
   repeated blocks (what group offloading moves one at a time), its largest leaf (sequential offloading);
   the parameter counts come from the safetensors headers where the weights are present.
2. Activations: the same meta-device components run the request's shapes — the text encoder over its
   token length, one transformer forward at the request's latent size (batch 2 where the family batches
   the two CFG branches), the VAE decode with and without tiling — while `LiveTensors` adds up the bytes of
   every tensor the ops create and drop. Attention is counted as a fused kernel (output only: what SDPA's
   flash / memory-efficient paths allocate on GPUs and on the CPU), not as the N×N matrix.
3. Plans: every combination of quantization (none, int8, nf4), offloading (none, model, group, group to
   disk, sequential) and VAE tiling, each one's expected peak = the weights resident in each phase (text
   encoding, denoising, decoding) + that phase's activations; the fastest one that fits in the budget
   (`COST`: relative seconds per step, from diffusers' docs and Kinema's GPU table) is applied.

Why: out-of-memory is the most common complaint of every open video model (Wan2.1 #97, Wan2.2 #58,
ComfyUI #12047); diffusers has every remedy, and a user should not have to know which to combine.
"""

from __future__ import annotations

import itertools
import json
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from kinema.errors import InvalidInputError

GB = 2**30  # a "24GB" GPU holds 24 GiB (nvidia-smi's MiB); Kinema prints GiB as GB, as users write it
HEADROOM = 0.06  # of the budget, kept free: the CUDA context, the allocator's fragmentation, kernels' scratch
QUANT_CHOICES = (None, "int8", "nf4")
OFFLOAD_CHOICES = (None, "model", "group", "disk", "sequential")
# Relative seconds per denoising step of each choice (1 = all weights resident, unquantized). Weight-only
# int8 dequantizes in the matmul (~10 %); nf4 more (~30 %); group offloading with CUDA streams overlaps the
# copies (~10 %, diffusers' group-offloading docs); from disk the reads show (~60 %); sequential offloading
# moves every layer every step (~4x); model offloading moves each model once per call (~5 %).
COST = {
    "int8": 1.1,
    "fp8": 1.05,
    "nf4": 1.3,
    "bnb-int8": 1.6,
    "model": 1.05,
    "group": 1.1,
    "disk": 1.6,
    "sequential": 4.0,
    "vae_tiling": 1.01,
}
# Per family: the tokens each text encoder reads (the pipelines' `max_sequence_length` defaults; HunyuanVideo's
# Llama also reads its 95-token prompt template, cropped before the transformer), the text tokens the
# transformer reads, and whether the pipeline batches the two classifier-free-guidance branches into one
# transformer call (Wan calls the transformer twice instead; HunyuanVideo distils guidance into an embedding).
# Keyed by the backend module that runs the pipeline class (`loader.DIFFUSERS_BACKENDS`), so a family is
# exactly the folders Kinema runs with that backend: LTX-2 is not LTX-Video because its name starts alike.
FAMILY: dict[str, tuple[tuple[int, ...], int, bool]] = {
    "wan": ((512,), 512, False),
    "skyreels": ((512,), 512, False),
    "ltx": ((128,), 128, True),
    "cogvideox": ((226,), 226, True),
    "hunyuan": ((256 + 95, 77), 256, False),
}
FAMILY_NAMES = "Wan 2.1/2.2, SkyReels-V2, LTX-Video, CogVideoX, HunyuanVideo"
_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
_SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1}


# ---- sizes ------------------------------------------------------------------------------------------------
def parse_memory(text: str | int) -> str | int:
    """`auto` or a size (`24GB`, `24 GiB`, `12000MB`, `8G`; bytes as a plain number) → "auto" or bytes."""
    if isinstance(text, int):
        return text
    s = str(text).strip()
    if s.lower() == "auto":
        return "auto"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", s.lower())
    if not m or float(m.group(1)) <= 0:
        raise InvalidInputError(f"memory={text!r} is not a size; write e.g. 24GB, 12000MB or auto.")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2)]
    return int(float(m.group(1)) * scale)


def _count(n: int) -> str:
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def format_bytes(n: float) -> str:
    return f"{n / GB:.1f} GB" if n >= GB / 10 else f"{n / 2**20:.1f} MB"


def device_memory(device: str) -> int:
    """What `--memory auto` plans for: the accelerator's free memory (`torch.cuda.mem_get_info`), or the
    system's available RAM on the CPU."""
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def budget_bytes(memory: str | int, device: str) -> int:
    value = parse_memory(memory)
    return device_memory(device) if value == "auto" else int(value)


# ---- live tensor bytes -------------------------------------------------------------------------------------
@contextmanager
def live_tensors() -> Iterator[Any]:
    """Count the bytes of tensors created inside the block (on any device, the meta device included):
    `.peak` and `.current` on the object yielded."""
    tracker = _live_tensors_class()()
    with tracker:
        yield tracker


@cache
def _live_tensors_class() -> type:
    """`LiveTensors`, defined on first use so that this module imports without torch (the API process
    parses `--memory` with it)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class LiveTensors(TorchDispatchMode):
        """A dispatch mode that adds up the storage bytes of every tensor an op creates and subtracts them
        when the storage is freed: the high-water mark of live tensor bytes, what
        `torch.cuda.max_memory_allocated` reports on a GPU, counted the same way on the CPU and on the meta
        device. Tensors that existed before (the weights) are not counted."""

        def __init__(self) -> None:
            super().__init__()
            self._live: dict[Any, int] = {}
            self.current = self.peak = 0

        def _drop(self, key: Any) -> None:
            self.current -= self._live.pop(key, 0)

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            # an output sharing an input's storage is a view or an in-place result: no new bytes (a view of
            # a weight is not an activation)
            given = {
                t.untyped_storage()._cdata
                for t in tree_flatten((args, kwargs))[0]
                if isinstance(t, torch.Tensor)
            }
            for t in tree_flatten(out)[0]:
                if not isinstance(t, torch.Tensor):
                    continue
                storage = t.untyped_storage()
                key = storage._cdata  # the storage itself (meta storages have no data pointer)
                if key in given or key in self._live or storage.nbytes() == 0:
                    continue
                self._live[key] = storage.nbytes()
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
                weakref.finalize(storage, self._drop, key)
            return out

    return LiveTensors


@contextmanager
def fused_attention() -> Iterator[None]:
    """On the meta device, SDPA as a fused kernel allocates it: the output only (flash / memory-efficient
    attention, what PyTorch picks on GPUs and for CPU float tensors), not the N×N scores of the math path."""
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def sdpa(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if query.device.type != "meta":
            return original(query, key, value, *args, **kwargs)
        return query.new_empty((*query.shape[:-1], value.shape[-1]))

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


# ---- the components' weights -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComponentWeights:
    """One pipeline component's parameters, as the plan counts them."""

    name: str
    role: str  # text | denoiser | vae | other
    params: int
    linear: int  # in nn.Linear weights: what weight-only quantization stores narrower
    block: int  # the largest repeated block (group offloading keeps two resident: current + prefetched)
    leaf: int  # the largest leaf module (sequential offloading keeps one)
    outside: int  # parameters outside the repeated blocks (embeddings, heads): group offloading's extra
    stored_bytes: int  # as saved (safetensors headers); 0 where the folder holds configs only

    def bytes(self, dtype_bytes: int, quant_bytes: float | None = None) -> float:
        """Resident bytes in the compute dtype, the linear weights at `quant_bytes` each if quantized."""
        if quant_bytes is None or self.role not in ("text", "denoiser"):
            return self.params * dtype_bytes
        return self.linear * quant_bytes + (self.params - self.linear) * dtype_bytes


def _role(name: str) -> str:
    if name.startswith("text_encoder"):
        return "text"
    if name.startswith("transformer"):
        return "denoiser"
    return "vae" if name == "vae" else "other"


def safetensors_params(folder: Path) -> tuple[int, int]:
    """(parameter count, stored bytes) from a component folder's safetensors headers (no tensor read)."""
    params = stored = 0
    for file in sorted(Path(folder).glob("*.safetensors")):
        with open(file, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(length))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            params += count
            stored += count * _SAFETENSORS_BYTES.get(info["dtype"], 4)
    return params, stored


def meta_component(folder: Path, library: str, class_name: str, dtype: Any) -> Any:
    """A component built from its config.json on the meta device: its structure, no weights."""
    import torch

    if library == "diffusers":
        import diffusers

        cls = getattr(diffusers, class_name)
        with torch.device("meta"):
            model = cls.from_config(cls.load_config(folder))
    else:
        import transformers

        cls = getattr(transformers, class_name)
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            model = cls(config)
    return model.to(dtype).eval()


def weights_of(name: str, model: Any, folder: Path) -> ComponentWeights:
    """Count a meta-device component's parameters by the plan's categories."""
    import torch

    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    block_names = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [m for m in model.modules() if type(m).__name__ in block_names]
    sizes = [sum(p.numel() for p in b.parameters()) for b in blocks]
    block = max(sizes, default=0)
    leaves = [m for m in model.modules() if not list(m.children())]
    leaf = max((sum(p.numel() for p in m.parameters(recurse=False)) for m in leaves), default=0)
    counted, stored = safetensors_params(folder)
    params = counted or sum(p.numel() for p in model.parameters())
    built = sum(p.numel() for p in model.parameters())
    return ComponentWeights(
        name,
        _role(name),
        params,
        min(linear, params),
        block or leaf,
        leaf,
        max(0, built - sum(sizes)),
        stored,
    )


# ---- the request's activations -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    width: int
    height: int
    num_frames: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}x{self.num_frames}"


def _family(pipeline_class: str) -> tuple[tuple[int, ...], int, bool]:
    from kinema.backends.loader import DIFFUSERS_BACKENDS

    module = DIFFUSERS_BACKENDS.get(pipeline_class, "").partition(":")[0].rpartition(".")[2]
    if module not in FAMILY:
        raise InvalidInputError(
            f"Kinema has no memory model of {pipeline_class} yet (it plans {FAMILY_NAMES} pipelines); "
            "leave out --memory and choose --offload / --quantize / --vae-tiling by hand."
        )
    return FAMILY[module]


def _transformer_inputs(model: Any, latents: Any, text: Any, batch: int) -> dict[str, Any]:
    """The meta-device arguments of one denoising call of a family's transformer."""
    import torch

    b, c, t, h, w = latents.shape
    x = latents.expand(batch, c, t, h, w)
    step = torch.empty(batch, device="meta", dtype=latents.dtype)
    name = type(model).__name__
    config = model.config
    kwargs: dict[str, Any] = {"timestep": step, "encoder_hidden_states": text.expand(batch, *text.shape[1:])}
    if name.startswith("LTX"):
        kwargs.update(
            hidden_states=x.flatten(2).transpose(1, 2),  # packed tokens (B, t·h·w, C), patch 1
            encoder_attention_mask=torch.empty(batch, text.shape[1], device="meta"),
            num_frames=t,
            height=h,
            width=w,
        )
    elif name.startswith("CogVideoX"):
        kwargs["hidden_states"] = x.transpose(1, 2)  # (B, t, C, h, w)
        if config.use_rotary_positional_embeddings:
            p = config.patch_size
            n, d = t * (h // p) * (w // p), config.attention_head_dim
            rope = torch.empty(n, d, device="meta", dtype=latents.dtype)
            kwargs["image_rotary_emb"] = (rope, rope)
    elif name.startswith("Hunyuan"):
        kwargs.update(
            hidden_states=x,
            encoder_attention_mask=torch.empty(batch, text.shape[1], device="meta"),
            pooled_projections=torch.empty(batch, config.pooled_projection_dim, device="meta"),
            guidance=step,
        )
    else:  # Wan, SkyReels-V2, Wan VACE
        kwargs["hidden_states"] = x
        if name.startswith("WanVACE"):
            kwargs["control_hidden_states"] = torch.empty(
                batch, config.vace_in_channels, t, h, w, device="meta", dtype=latents.dtype
            )
    return kwargs


@dataclass
class Activations:
    """Peak bytes of live activations per phase for one request (weights excluded)."""

    text: int
    denoise: int
    decode: int
    decode_tiled: int

    def peak(self, tiled: bool) -> int:
        return max(self.text, self.denoise, self.decode_tiled if tiled else self.decode)


# ---- the model ----------------------------------------------------------------------------------------------
@dataclass
class ModelMemory:
    """A diffusers folder's memory facts: component weights and, per request, the activation peaks."""

    path: Path
    dtype: str
    index: dict[str, Any]
    components: dict[str, Any] = field(default_factory=dict)  # name → meta model
    weights: dict[str, ComponentWeights] = field(default_factory=dict)
    _activations: dict[Request, Activations] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, path: str | Path, dtype: str = "bf16") -> ModelMemory:
        """Read `model_index.json` and build each torch component from its config on the meta device."""
        from kinema.backends.diffusers_base import read_index, torch_dtype

        path = Path(path)
        index = read_index(path)
        model = cls(path, dtype, index)
        tdtype = torch_dtype(dtype, "cuda")
        for name, value in index.items():
            if not (
                isinstance(value, list) and len(value) == 2 and value[0] in ("diffusers", "transformers")
            ):
                continue
            library, class_name = value
            if name in ("scheduler",) or "Tokenizer" in class_name or "Processor" in class_name:
                continue
            meta = meta_component(path / name, library, class_name, tdtype)
            model.components[name] = meta
            model.weights[name] = weights_of(name, meta, path / name)
        return model

    @property
    def dtype_bytes(self) -> int:
        return _DTYPE_BYTES[self.dtype]

    @cached_property
    def family(self) -> tuple[tuple[int, ...], int, bool]:
        return _family(str(self.index.get("_class_name", "")))

    def activations(self, request: Request) -> Activations:
        """Each phase's activation peak for a request (worked out once per request size)."""
        if request not in self._activations:
            self._activations[request] = self._measure(request)
        return self._activations[request]

    def _measure(self, request: Request) -> Activations:
        """Run the request's shapes through the meta components and record each phase's peak."""
        import torch

        from kinema.backends.diffusers_base import torch_dtype

        dtype = torch_dtype(self.dtype, "cuda")
        encoder_lengths, text_len, cfg_batched = self.family
        comps = self.components
        transformer = next(v for k, v in comps.items() if k.startswith("transformer"))
        # a checkpoint that reads fewer text tokens (CogVideoX's max_text_seq_length) gets that many
        text_len = min(text_len, getattr(transformer.config, "max_text_seq_length", None) or text_len)
        with torch.no_grad(), fused_attention():
            text_peak, embeds = 0, []
            for name in sorted(n for n in comps if n.startswith("text_encoder")):
                encoder = comps[name]
                length = min(
                    text_len, getattr(encoder.config, "max_position_embeddings", text_len) or text_len
                )
                ids = torch.zeros(1, length, dtype=torch.long, device="meta")
                with live_tensors() as live:
                    out = encoder(input_ids=ids, output_hidden_states=False)
                text_peak = max(text_peak, live.peak)
                embeds.append(out[0])
            vae = comps["vae"]
            pixels = torch.empty(
                1, 3, request.num_frames, request.height, request.width, device="meta", dtype=dtype
            )
            latents = _latents(vae, pixels)
            width = _text_width(comps)
            text = torch.empty(1, text_len, width, device="meta", dtype=dtype)
            batch = 2 if cfg_batched else 1
            denoise = 0
            for name in (n for n in comps if n.startswith("transformer")):
                with live_tensors() as live:
                    comps[name](**_transformer_inputs(comps[name], latents, text, batch), return_dict=False)
                denoise = max(denoise, live.peak)
            embeds_bytes = sum(e.numel() * e.element_size() for e in embeds) * 2  # both CFG branches kept
            latent_bytes = latents.numel() * latents.element_size()
            decode, decode_tiled = (self._decode(vae, latents, tiled) for tiled in (False, True))
        video = 3 * request.num_frames * request.height * request.width
        # the pipeline's post-processing (denormalise, clamp, stack: three float32 copies at once) and
        # Kinema's uint8 frames
        post = 3 * video * 4 + video
        return Activations(
            text=text_peak,
            denoise=denoise
            + embeds_bytes
            + 4 * latent_bytes,  # latents, noise prediction(s), the step's update
            decode=max(decode, post) + embeds_bytes,
            decode_tiled=max(decode_tiled, post) + embeds_bytes,
        )

    @staticmethod
    def _decode(vae: Any, latents: Any, tiled: bool) -> int:
        (vae.enable_tiling if tiled else vae.disable_tiling)()
        kwargs = {}
        if getattr(vae.config, "timestep_conditioning", False):
            import torch

            kwargs["temb"] = torch.empty(latents.shape[0], device="meta", dtype=latents.dtype)
        with live_tensors() as live:
            vae.decode(latents, return_dict=False, **kwargs)
        vae.disable_tiling()
        return live.peak


def _latents(vae: Any, pixels: Any) -> Any:
    """The latent tensor of a pixel video of the request's size, from the VAE's own encoder (meta: shapes
    only), so each family's compression and channel counts come from its code, not a table here."""
    with_tiling = getattr(vae, "use_tiling", False)
    vae.disable_tiling()
    out = vae.encode(pixels).latent_dist.mode()
    if with_tiling:
        vae.enable_tiling()
    return out


def _text_width(components: dict[str, Any]) -> int:
    """The width of the text states the transformer reads (its text projection's input)."""
    transformer = next(v for k, v in components.items() if k.startswith("transformer"))
    c = transformer.config
    for key in ("text_dim", "caption_channels", "text_embed_dim"):
        if getattr(c, key, None):
            return int(getattr(c, key))
    return int(getattr(c, "cross_attention_dim", 4096))


# ---- plans -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """One combination of load options and its expected peak (bytes) and relative cost per step."""

    quantize: str | None
    offload: str | None  # model | group | disk (group offloading to disk) | sequential
    vae_tiling: bool
    peak: int
    phases: tuple[int, int, int]  # text, denoise, decode peaks
    cost: float

    def describe(self) -> str:
        parts = [
            self.quantize or "",
            f"{self.offload} offload" if self.offload else "",
            "VAE tiling" * self.vae_tiling,
        ]
        return ", ".join(p for p in parts if p) or "as is"

    def load_options(self) -> dict[str, Any]:
        """The `LoadOptions` fields this plan sets."""
        options: dict[str, Any] = {"vae_tiling": self.vae_tiling}
        if self.quantize:
            options["quantize"] = self.quantize
        if self.offload == "disk":
            options["offload"] = "group"
            options["offload_dir"] = _offload_dir()
        elif self.offload:
            options["offload"] = self.offload
        return options


def _offload_dir() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / "kinema-offload"


def resident(
    weights: dict[str, ComponentWeights],
    phase: str,
    offload: str | None,
    dtype_bytes: int,
    quant: Any,
    on_cpu: bool,
) -> float:
    """Weight bytes on the device while `phase` (text | denoise | decode) runs; `quant` a `Quantization`
    (its components' linear weights at its bytes per weight) or None."""
    role = {"text": "text", "denoise": "denoiser", "decode": "vae"}[phase]
    size = {
        n: w.bytes(dtype_bytes, quant.bytes_per_weight if quant and n in quant.components else None)
        for n, w in weights.items()
    }
    if offload is None or (offload == "group" and on_cpu):
        return sum(size.values())  # on the CPU, group offloading cpu→cpu frees nothing
    active = [n for n, w in weights.items() if w.role == role]
    if offload == "model":
        return max((size[n] for n in active), default=0)
    if offload == "sequential":
        return max((weights[n].leaf * dtype_bytes for n in active), default=0)
    # group (accelerator) or disk: the active model's non-block weights + two blocks (current, prefetched);
    # to disk the VAE stays whole in memory (diffusers_base.configure: LTX's VAE comes back NaN from disk)
    whole = [n for n, w in weights.items() if offload == "disk" and w.role == "vae"]
    grouped = 0.0
    for n in active:
        w = weights[n]
        if n not in whole:
            grouped = max(grouped, size[n] / max(1, w.params) * min(w.params, 2 * w.block + w.outside))
    return sum(size[n] for n in whole) + grouped


@dataclass
class MemoryPlan:
    """All the plans for one model, request and budget, and the one chosen."""

    model: str
    request: Request
    device: str
    dtype: str
    budget: int
    weights: dict[str, ComponentWeights]
    plans: list[Plan]
    bare: Plan  # no quantization, offloading or tiling: what the model needs as is

    @property
    def chosen(self) -> Plan | None:
        fits = [p for p in self.plans if p.peak <= self.usable]
        return min(fits, key=lambda p: (p.cost, p.peak)) if fits else None

    @property
    def usable(self) -> int:
        return int(self.budget * (1 - HEADROOM))

    @property
    def smallest(self) -> Plan:
        return min(self.plans, key=lambda p: (p.peak, p.cost))

    def missing(self) -> str:
        """Why nothing fits, in one sentence: the bare need, the smallest plan's, the budget."""
        small = self.smallest
        return (
            f"{self.model} at {self.request} needs {format_bytes(self.bare.peak)} as is; with "
            f"{small.describe()}: {format_bytes(small.peak)}; you have {format_bytes(self.budget)} "
            f"({format_bytes(self.usable)} usable): ask for fewer frames or a smaller size, or use a larger device."
        )

    def table(self) -> str:
        """The components, then the plan chosen beside the as-is need, as a Markdown table."""
        lines = [
            f"memory plan: {self.model} at {self.request} on {self.device} ({self.dtype}), "
            f"budget {format_bytes(self.budget)}",
            "| component | parameters | in nn.Linear | bytes |",
            "|---|---|---|---|",
        ]
        for w in self.weights.values():
            lines.append(
                f"| {w.name} | {_count(w.params)} | {w.linear / max(1, w.params):.0%} | "
                f"{format_bytes(w.params * _DTYPE_BYTES[self.dtype])} |"
            )
        lines += [
            "",
            "| plan | text | denoise | decode | expected peak | step cost | fits |",
            "|---|---|---|---|---|---|---|",
        ]
        shown = [self.bare, *([self.chosen] if self.chosen else []), self.smallest]
        seen: set[Plan] = set()
        for p in shown:
            if p in seen:
                continue
            seen.add(p)
            mark = "**chosen**" if p == self.chosen else ("yes" if p.peak <= self.usable else "no")
            t, d, v = (format_bytes(x) for x in p.phases)
            lines.append(
                f"| {p.describe()} | {t} | {d} | {v} | {format_bytes(p.peak)} | {p.cost:.2f}x | {mark} |"
            )
        return "\n".join(lines)


def evaluate(model: ModelMemory, acts: Activations, quant: str | None, offload: str | None, tiled: bool,
             on_cpu: bool) -> Plan:  # fmt: skip
    """One combination's expected peak per phase (resident weights + that phase's activations) and cost."""
    from kinema.backends.quantize import Quantization

    q = Quantization.parse(quant) if quant else None
    phases = []
    for phase, act in (("text", acts.text), ("denoise", acts.denoise),
                       ("decode", acts.decode_tiled if tiled else acts.decode)):  # fmt: skip
        phases.append(int(resident(model.weights, phase, offload, model.dtype_bytes, q, on_cpu) + act))
    cost = 1.0
    for choice in (q and q.kind, offload, "vae_tiling" if tiled else None):
        cost *= COST.get(choice, 1.0) if choice else 1.0
    return Plan(quant, offload, tiled, max(phases), (phases[0], phases[1], phases[2]), round(cost, 4))


def make_plan(
    model: ModelMemory,
    request: Request,
    budget: int,
    device: str = "cuda",
    name: str | None = None,
    fixed: dict[str, Any] | None = None,
) -> MemoryPlan:
    """Every combination (less those the device cannot run, and those `fixed` by the user's own flags),
    its expected peak and cost."""
    on_cpu = not str(device).startswith("cuda")
    fixed = fixed or {}
    acts = model.activations(request)
    plans = []
    for quant, offload, tiled in itertools.product(QUANT_CHOICES, OFFLOAD_CHOICES, (False, True)):
        if on_cpu and (quant == "nf4" or offload in ("model", "sequential", "group")):
            continue  # bitsandbytes and accelerator offloading need CUDA; cpu→cpu group frees nothing
        if "quantize" in fixed:
            if quant is not None:
                continue
            quant = fixed["quantize"]  # the user's own choice, as given
        if "offload" in fixed and (offload if offload != "disk" else "group") != fixed["offload"]:
            continue
        if fixed.get("vae_tiling") and not tiled:
            continue
        plans.append(evaluate(model, acts, quant, offload, tiled, on_cpu))
    if not plans:
        raise InvalidInputError(
            f"No plan keeps {fixed} on {device}: accelerator offloading needs a GPU; drop --offload or pass "
            "--device cuda."
        )
    bare = evaluate(model, acts, None, None, False, on_cpu)
    return MemoryPlan(
        name or model.path.name, request, device, model.dtype, budget, model.weights, plans, bare
    )


def dtype_name(dtype: str | None, device: str) -> str:
    """The dtype the backend will load in (`torch_dtype`'s defaults: fp32 on the CPU, bf16 elsewhere)."""
    return dtype or ("fp32" if str(device).startswith("cpu") else "bf16")


def plan_for_folder(
    path: str | Path,
    memory: str | int,
    device: str = "cuda",
    dtype: str | None = None,
    width: int | None = None,
    height: int | None = None,
    num_frames: int | None = None,
    fixed: dict[str, Any] | None = None,
) -> MemoryPlan:
    """The memory plan of a diffusers model folder for a request (the model's native size and length
    where not given) and a budget (`auto`: the device's free memory)."""
    from kinema.backends.hub import resolve_configs
    from kinema.backends.loader import read_facts

    source = resolve_configs(path, dtype)  # a hub id: its whole cached snapshot, else its configs only
    path, facts = source.path, read_facts(source.path, source.name)  # named as the user named it
    request = Request(width or facts.width, height or facts.height, num_frames or facts.num_frames)
    model = ModelMemory.read(path, dtype_name(dtype, device))
    return make_plan(model, request, budget_bytes(memory, device), device, facts.name, fixed)


def fixed_options(load: Any) -> dict[str, Any]:
    """The options a user set by hand (`LoadOptions` fields), which the plan keeps as given."""
    fixed: dict[str, Any] = {}
    if load.quantize:
        fixed["quantize"] = load.quantize
    if load.offload:
        fixed["offload"] = load.offload
    if load.vae_tiling:
        fixed["vae_tiling"] = True
    return fixed


def apply_plan(plan: MemoryPlan, load: Any) -> Any:
    """`load` with the chosen plan's options (and `memory` spent); InvalidInputError saying what is missing
    where no plan fits."""
    from dataclasses import replace

    chosen = plan.chosen
    if chosen is None:
        raise InvalidInputError(plan.missing())
    options = chosen.load_options()
    if load.offload_dir is not None and "offload_dir" in options:
        options["offload_dir"] = load.offload_dir
    return replace(load, memory=None, **options)
