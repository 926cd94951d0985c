"""Recipes load strictly: every key typed, unknown keys and bad values rejected with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.training.config import TrainingConfig, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_recipe_loads(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.kind in ("vae", "dit")
    # Round trip: the saved YAML (what checkpoints and exports hold) loads back to the same config.
    again = config_from_dict(__import__("yaml").safe_load(cfg.to_yaml()))
    assert again == cfg


def test_overrides_are_typed_and_nested():
    cfg = load_config(
        CONFIGS / "tiny_dit.yaml",
        [
            "optim.lr=1e-4",
            "train.steps=100",
            "transformer.overrides.depth=3",
            "optim.betas=[0.8, 0.95]",
            "flow.shift=null",
        ],
    )
    assert cfg.optim.lr == 1e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.train.steps == 100
    assert cfg.transformer.overrides == {"depth": 3}
    assert cfg.optim.betas == (0.8, 0.95)
    assert cfg.flow.shift is None


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(InvalidInputError) as err:
        load_config(CONFIGS / "tiny_dit.yaml", ["optim.learning_rate=1e-4"])
    msg = str(err.value)
    assert "optim.learning_rate" in msg and "lr" in msg and "warmup_steps" in msg
    with pytest.raises(InvalidInputError, match="unknown config key 'trian'"):
        config_from_dict({"trian": {}})


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"train": {"steps": "many"}, "kind": "vae"}, "train.steps must be an integer"),
        ({"train": {"parallel": "zero3"}, "kind": "vae"}, "train.parallel must be one of"),
        ({"data": {"num_frames": 16}, "kind": "vae"}, "1 + 4k"),
        ({"data": {"width": 60}, "kind": "vae"}, "multiples of 8"),
        ({"kind": "dit"}, "vae.path"),
        ({"kind": "vae", "conditioning": {"p_t2v": 0.9}}, "must sum to 1"),
        ({"kind": "vae", "optim": {"betas": [0.9]}}, "optim.betas must have 2 items"),
        ({"kind": "vae", "ema": {"enabled": "yes"}}, "true or false"),
        ({"kind": "vae", "data": {"source": "folder"}}, "data.folder"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(raw, needle):
    with pytest.raises(InvalidInputError, match=needle.replace("(", r"\(").replace("+", r"\+")):
        config_from_dict(raw)


def test_defaults_live_in_one_place():
    cfg = TrainingConfig()
    assert config_from_dict({"kind": "vae"}).train == cfg.train


def test_cli_reports_config_errors_and_exits_2(capsys, tmp_path):
    assert main(["train", "dit", "--config", str(CONFIGS / "tiny_dit.yaml"), "--set", "optim.lrr=1"]) == 2
    assert "unknown config key 'optim.lrr'" in capsys.readouterr().err
    assert main(["train", "vae", "--config", str(CONFIGS / "tiny_dit.yaml")]) == 2
    assert "run `kinema train dit`" in capsys.readouterr().err
    assert main(["train", "dit", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "dit",
                "--config",
                str(CONFIGS / "tiny_dit.yaml"),
                "--set",
                "train.steps=7",
                "--print-config",
            ]
        )
        == 0
    )
    assert "steps: 7" in capsys.readouterr().out
