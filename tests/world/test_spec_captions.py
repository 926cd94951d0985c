"""Scene specs reject bad values with clear errors; captions state what the spec says."""

import re

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.world.captions import (
    CAMERA_WORDS,
    DIRECTION_WORDS,
    PRESET_WORDS,
    SHAPE_WORDS,
    caption,
    direction_index,
)
from kinema.world.dataset import WorldDataConfig, plan_clip
from kinema.world.spec import CAMERA_AXES, COLORS, SceneSpec


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"objects": [{"size": -1}]}, "objects.0.size", "greater than 0.05"),
        ({"camera": {"zoom": 11}}, "camera.zoom", "less than or equal to 10"),
        ({"objects": [{"color": "mauve"}]}, "objects.0", "use one of"),
        ({"objects": [{"shape": "star"}]}, "objects.0.shape", "'circle', 'square', 'triangle' or 'ring'"),
        ({"width": 96, "height": 64}, "scene", "aspect"),
        ({"fps": 0}, "fps", "greater than 0"),
        ({"background": {"color": [300, 0, 0]}}, "background", "0..255"),
        ({"objects": [{"restitution": 1.5}]}, "objects.0.restitution", "less than or equal to 1"),
        ({"gravity": [0, -500]}, "scene", "-100..100"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"objects": [{"velocity": [0, 5000]}]}, "objects.0.velocity.1", "less than or equal to 1000"),
    ],
)
def test_bad_specs_raise_errors_naming_field_and_range(data, field, hint):
    with pytest.raises(InvalidInputError) as info:
        SceneSpec.parse(data)
    msg = str(info.value)
    assert msg.startswith("invalid scene spec: ") and f"{field}:" in msg and hint in msg


def test_spec_round_trips_through_json():
    spec = SceneSpec.parse(
        {"objects": [{"shape": "ring", "color": "cyan", "size": 0.8}], "camera": {"preset": "down_back"}}
    )
    assert SceneSpec.parse(spec.model_dump(mode="json")) == spec


@pytest.mark.parametrize("seed", range(3))
def test_captions_match_their_specs(seed):
    cfg = WorldDataConfig(width=32, height=32, num_frames=5, camera_prob=0.6, texture_prob=0.5, seed=seed)
    for index in range(25):
        plan = plan_clip(index, cfg)
        spec, text = plan.spec, plan.caption.lower()
        # colours: exactly the objects' colours are named (background words are white/gray/plain/textured)
        named = {c for c in COLORS if re.search(rf"\b{c}\b", text)}
        assert named == {o.color for o in spec.objects}, text
        for obj in spec.objects:
            assert any(re.search(rf"\b{obj.color} {w}\b", text) for w in SHAPE_WORDS[obj.shape]), text
            vx, vy = obj.velocity
            if np.hypot(vx, vy) >= 0.02 * spec.world_size[1] and not obj.static:
                assert DIRECTION_WORDS[direction_index(vx, vy)] in text, text
        # no shape word of a shape that is absent
        absent = set(SHAPE_WORDS) - {o.shape for o in spec.objects}
        for shape in absent:
            for w in SHAPE_WORDS[shape]:
                if not any(w in s for o in spec.objects for s in SHAPE_WORDS[o.shape]):
                    assert not re.search(rf"\b{w}\b", text), (w, text)
        cam = spec.camera
        if cam.preset:
            assert any(p in text for p in PRESET_WORDS[cam.preset]), text
        elif cam.is_static:
            assert "camera" not in text
        else:
            for axis in CAMERA_AXES:
                value = getattr(cam, axis)
                if value:
                    assert any(w in text for w in CAMERA_WORDS[axis][0 if value > 0 else 1]), (axis, text)
        if spec.scenario == "collision" or any(e["kind"] == "collision" for e in plan.events):
            assert re.search(r"collide|bumps into|hit each other", text), text


def test_captions_vary_and_are_deterministic():
    spec = plan_clip(0, WorldDataConfig(scenarios=("collision",), width=32, height=32, num_frames=5)).spec
    texts = {caption(spec, np.random.default_rng(s)) for s in range(20)}
    assert len(texts) >= 8
    assert caption(spec, 5) == caption(spec, 5)
