"""KinemaTransformer3DModel: shapes per preset, conditioning, masks, RoPE, save/load, determinism, errors."""

from __future__ import annotations

import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.models import DIT_PRESETS, KinemaTransformer3DModel, transformer_config
from kinema.models.transformer_kinema import apply_rope, rope_table


def _activate_zero_inits(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every zero-initialised tensor (adaLN-Zero, output, camera, trajectory) small random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def _model(activate: bool = True, **over) -> KinemaTransformer3DModel:
    torch.manual_seed(0)
    model = KinemaTransformer3DModel(**transformer_config("tiny", **over)).eval()
    if activate:
        _activate_zero_inits(model)
    return model


def _inputs(b: int = 2, t: int = 3, h: int = 4, w: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "hidden_states": torch.randn(b, 4, t, h, w, generator=g),
        "timestep": torch.tensor([100.0, 700.0][:b]),
        "encoder_hidden_states": torch.randn(b, 5, 384, generator=g),
        "encoder_attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]][:b], dtype=torch.bool),
    }


@torch.no_grad()
def test_tiny_shape_and_adaln_zero_identity():
    inp = _inputs()
    out = _model(activate=False)(**inp)
    assert out.shape == (2, 4, 3, 4, 6)
    assert torch.equal(out, torch.zeros_like(out))  # adaLN-Zero: zero output layer at init
    out = _model()(**inp)
    assert out.shape == (2, 4, 3, 4, 6) and out.abs().max() > 0


@torch.no_grad()
@pytest.mark.parametrize("name", ["S", "B", "L", "XL"])
def test_large_presets_shapes_on_meta(name):
    # Built on the meta device: config, parameter count and output shape without allocating gigabytes.
    with torch.device("meta"):
        model = KinemaTransformer3DModel(**transformer_config(name))
        out = model(
            torch.empty(1, 16, 2, 4, 6),
            torch.empty(1),
            torch.empty(1, 7, 384),
            cond_latents=torch.empty(1, 16, 2, 4, 6),
            cond_mask=torch.empty(1, 1, 2, 4, 6),
            camera=torch.empty(1, 2, 6),
            trajectory=torch.empty(1, 3, 2, 4, 6),
        )
    assert out.shape == (1, 16, 2, 4, 6)
    preset = DIT_PRESETS[name]
    assert (model.config.hidden_size, model.config.depth, model.config.num_heads) == (
        preset["hidden_size"],
        preset["depth"],
        preset["num_heads"],
    )
    d, n = preset["hidden_size"], preset["depth"]
    # Per block: QKV+O 4d², cross Q+O 2d² + text K/V 2d², MLP 8d², adaLN 6d² → 22d² (biases, embedders aside).
    params = sum(p.numel() for p in model.parameters())
    assert 22 * d * d * n < params < 22 * d * d * n * 1.15


def test_preset_registry_errors():
    with pytest.raises(InvalidInputError, match="tiny"):
        transformer_config("huge")
    assert transformer_config("S", depth=2)["depth"] == 2


@torch.no_grad()
def test_conditioning_honoured_only_under_mask():
    model = _model()
    inp = _inputs()
    cond = torch.randn(2, 4, 3, 4, 6, generator=torch.Generator().manual_seed(5))
    other = torch.randn(2, 4, 3, 4, 6, generator=torch.Generator().manual_seed(6))
    mask = torch.zeros(2, 1, 3, 4, 6)
    mask[:, :, 0] = 1.0  # first latent frame given
    a = model(**inp, cond_latents=cond, cond_mask=mask)
    b = model(
        **inp, cond_latents=cond.clone().index_fill_(2, torch.tensor([0]), 0.0) + other * mask, cond_mask=mask
    )
    assert (a - b).abs().max() > 1e-4  # changed condition under mask=1 changes the output
    c = model(**inp, cond_latents=cond + other * (1 - mask), cond_mask=mask)
    torch.testing.assert_close(a, c, atol=0, rtol=0)  # changes under mask=0 are invisible
    none = model(**inp)
    zero_mask = model(**inp, cond_latents=cond, cond_mask=torch.zeros_like(mask))
    torch.testing.assert_close(none, zero_mask, atol=0, rtol=0)  # missing conditions = zeros


@torch.no_grad()
@pytest.mark.parametrize("kind", ["camera", "trajectory"])
def test_camera_and_trajectory_zero_init_then_effective(kind):
    inp = _inputs()
    g = torch.Generator().manual_seed(9)
    value = torch.randn(2, 3, 6, generator=g) if kind == "camera" else torch.randn(2, 3, 3, 4, 6, generator=g)
    model = _model(activate=False)
    torch.manual_seed(0)
    # Only the blocks/output are activated: the camera/trajectory layers keep their zero init.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.any() and not name.startswith(("camera_embed", "trajectory_embed")):
                p.normal_(0, 0.05)
    torch.testing.assert_close(model(**inp, **{kind: value}), model(**inp), atol=0, rtol=0)
    _activate_zero_inits(model)
    a, b = model(**inp, **{kind: value}), model(**inp)
    assert (a - b).abs().max() > 1e-4
    if (
        kind == "camera"
    ):  # per-frame: changing frame 2's camera leaves frame... (attention mixes frames) output
        other = value.clone()
        other[:, 2] += 1.0
        assert (model(**inp, camera=other) - a).abs().max() > 1e-4


@torch.no_grad()
def test_text_padding_is_masked_and_batch_equals_single():
    model = _model()
    inp = _inputs()
    out = model(**inp)
    noisy_pad = dict(inp)
    text = inp["encoder_hidden_states"].clone()
    text[0, 3:] = 100.0  # padded tokens of sample 0 must be ignored
    noisy_pad["encoder_hidden_states"] = text
    torch.testing.assert_close(model(**noisy_pad), out, atol=1e-5, rtol=0)
    single = model(**{k: v[1:] for k, v in inp.items()})
    torch.testing.assert_close(single, out[1:], atol=1e-5, rtol=1e-5)
    # Text does matter where it is not masked.
    text = inp["encoder_hidden_states"].clone()
    text[0, 0] += 1.0
    assert (model(**{**inp, "encoder_hidden_states": text})[0] - out[0]).abs().max() > 1e-5


@torch.no_grad()
def test_all_masked_prompt_gives_finite_output():
    inp = _inputs()
    inp["encoder_attention_mask"] = torch.zeros(2, 5, dtype=torch.bool)
    assert torch.isfinite(_model()(**inp)).all()


def test_rope_depends_only_on_relative_position():
    head_dim = 32
    angles = rope_table(3, 4, 5, head_dim, 10000.0, torch.device("cpu")).float()  # (60, 16)
    cos, sin = angles.cos(), angles.sin()
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(head_dim, generator=g), torch.randn(head_dim, generator=g)
    rq = apply_rope(q.expand(1, 1, 60, head_dim), cos, sin)[0, 0]  # (60, hd)
    rk = apply_rope(k.expand(1, 1, 60, head_dim), cos, sin)[0, 0]

    def idx(t, h, w):
        return (t * 4 + h) * 5 + w

    # Same offset (1, 1, 2) at two places → same score; a different offset → a different score.
    s1 = rq[idx(0, 0, 0)] @ rk[idx(1, 1, 2)]
    s2 = rq[idx(1, 2, 1)] @ rk[idx(2, 3, 3)]
    s3 = rq[idx(0, 0, 0)] @ rk[idx(1, 2, 2)]
    torch.testing.assert_close(s1, s2, atol=1e-5, rtol=1e-5)
    assert (s1 - s3).abs() > 1e-3
    torch.testing.assert_close(rq.norm(dim=-1), q.norm().expand(60), atol=1e-5, rtol=1e-5)  # a rotation


@torch.no_grad()
def test_same_seed_identical_and_save_load_roundtrip(tmp_path):
    a, b = _model(), _model()
    inp = _inputs()
    out = a(**inp)
    assert torch.equal(out, b(**inp))
    a.save_pretrained(tmp_path / "dit")
    assert (tmp_path / "dit" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = KinemaTransformer3DModel.from_pretrained(tmp_path / "dit").eval()
    assert tuple(loaded.config.patch_size) == (1, 2, 2) and loaded.config.hidden_size == 64
    torch.testing.assert_close(loaded(**inp), out, atol=1e-6, rtol=0)


@torch.no_grad()
def test_other_patch_sizes_and_any_grid():
    model = _model(patch_size=(2, 2, 2))
    inp = _inputs(t=4, h=2, w=8)
    assert model(**inp, camera=torch.zeros(2, 4, 6)).shape == (2, 4, 4, 2, 8)


def test_gradient_checkpointing_matches():
    model = _model()
    inp = _inputs()
    ref = model(**inp)
    model.enable_gradient_checkpointing()
    model.train()
    out = model(**inp)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    out.sum().backward()
    assert model.blocks[0].attn.qkv.weight.grad is not None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"hidden_states": torch.zeros(2, 4, 4, 6)}, r"\(B, 4, t, h, w\)"),
        ({"hidden_states": torch.zeros(2, 4, 3, 5, 6)}, "not divisible by patch_size"),
        ({"hidden_states": torch.zeros(2, 3, 3, 4, 6)}, r"\(B, 4, t, h, w\)"),
        ({"encoder_hidden_states": torch.zeros(2, 5, 100)}, "encoder_hidden_states"),
        ({"timestep": torch.zeros(3)}, "timestep"),
        ({"camera": torch.zeros(2, 2, 6)}, "camera"),
        ({"cond_mask": torch.zeros(2, 3, 4, 6)}, "cond_mask"),
        ({"trajectory": torch.zeros(2, 2, 3, 4, 6)}, "trajectory"),
    ],
)
def test_bad_inputs_raise(change, needle):
    with pytest.raises(InvalidInputError, match=needle):
        _model(activate=False)(**{**_inputs(), **change})


def test_bad_config_raises():
    with pytest.raises(InvalidInputError, match="num_heads"):
        KinemaTransformer3DModel(hidden_size=100, num_heads=3)


@torch.no_grad()
def test_reference_slice():
    # Pins the architecture and initialisation (diffusers-style expected slice); regenerate only on purpose.
    out = _model()(**_inputs())
    expected = torch.tensor([0.2823, -0.2411, -0.0252, -0.9456])
    torch.testing.assert_close(out[0, :, 1, 2, 3], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(
        out[1, 0, 2, 0, :3], torch.tensor([-0.0899, -0.6177, -0.2508]), atol=1e-4, rtol=0
    )


@torch.no_grad()
def test_trajectory_adapter_starts_as_a_no_op_and_a_zero_map_injects_nothing():
    inp = _inputs()
    g = torch.Generator().manual_seed(3)
    looks_map = torch.randn(2, 7, 3, 4, 6, generator=g)  # presence, dx, dy, colour (3), radius
    base = _model()
    adapted = KinemaTransformer3DModel(**transformer_config("tiny", trajectory_adapter_channels=7)).eval()
    assert adapted.trajectory_map_channels == 7 and base.trajectory_map_channels == 3
    missing, unexpected = adapted.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("trajectory_") for k in missing)
    # Fresh (zero-initialised injections): the adapter changes nothing; the base reads the motion channels.
    torch.testing.assert_close(adapted(**inp, trajectory=looks_map), base(**inp, trajectory=looks_map[:, :3]))
    _activate_zero_inits(adapted, seed=5)
    with_looks = adapted(**inp, trajectory=looks_map)
    assert (with_looks - base(**inp, trajectory=looks_map[:, :3])).abs().max() > 1e-4
    other_colour = looks_map.clone()
    other_colour[:, 3:6] *= -1  # only the colour channels change: the adapter reads them
    assert (adapted(**inp, trajectory=other_colour) - with_looks).abs().max() > 1e-4
    # Bias-free adapter: an all-zero map injects nothing, and no map is exactly the base model.
    zero = torch.zeros_like(looks_map)
    torch.testing.assert_close(
        adapted(**inp, trajectory=zero), base(**inp, trajectory=zero[:, :3]), atol=0, rtol=0
    )
    torch.testing.assert_close(adapted(**inp), base(**inp), atol=0, rtol=0)
    # A map whose looks are not given (a user's motion brush) leaves the adapter out, sample by sample.
    no_looks = looks_map.clone()
    no_looks[0, 3:] = 0
    mixed = adapted(**inp, trajectory=no_looks)
    torch.testing.assert_close(mixed[0], base(**inp, trajectory=no_looks[:, :3])[0], atol=0, rtol=0)
    torch.testing.assert_close(mixed[1], with_looks[1])
    with pytest.raises(InvalidInputError, match=r"trajectory must have shape \(2, 7, 3, 4, 6\)"):
        adapted(**inp, trajectory=looks_map[:, :3])
