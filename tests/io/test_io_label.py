"""The GB 45438-2025 implicit label: JSON form, PNG/JPEG/MP4 embedding, reading back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.io import AIGCLabel, default_label, read_aigc_label, save_labelled_image

FIELDS = [
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
]


def test_json_has_the_seven_fields_in_order_and_round_trips():
    label = AIGCLabel(ContentProducer="快影", ProduceID="abc", PropagateID="p-1")
    data = json.loads(label.to_json())
    assert list(data) == FIELDS
    assert data["Label"] == "1" and data["ContentProducer"] == "快影"
    assert "快影" in label.to_json()  # UTF-8 kept readable, not \u-escaped
    assert AIGCLabel.from_json(label.to_json()) == label
    assert AIGCLabel.from_json(json.dumps({"AIGC": data})) == label  # the wrapped form is accepted too


def test_default_label_fresh_id():
    a, b = default_label(), default_label()
    assert a.Label == "1" and a.ContentProducer == "Kinema" and len(a.ProduceID) == 32
    assert a.ProduceID != b.ProduceID
    assert default_label("job-7").ProduceID == "job-7"


def test_bad_label_json_rejected():
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        AIGCLabel.from_json("{nope")
    with pytest.raises(InvalidInputError, match="unknown fields"):
        AIGCLabel.from_json('{"Label": "1", "Colour": "red"}')
    with pytest.raises(InvalidInputError, match="JSON object"):
        AIGCLabel.from_json("[1, 2]")


@pytest.mark.parametrize("name", ["x.png", "x.jpg"])
def test_image_label_round_trip(tmp_path, name):
    img = Image.fromarray(np.full((8, 8, 3), 99, np.uint8))
    label = AIGCLabel(ProduceID="id-1", ContentPropagator="Example", ReservedCode2="r2")
    save_labelled_image(img, tmp_path / name, label)
    assert read_aigc_label(tmp_path / name) == label
    save_labelled_image(img, tmp_path / name, None)
    assert read_aigc_label(tmp_path / name) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # atomic: no temp left


def test_png_label_is_a_text_chunk_named_aigc(tmp_path):
    label = AIGCLabel(ProduceID="id-2")
    save_labelled_image(Image.new("RGB", (4, 4)), tmp_path / "t.png", label)
    with Image.open(tmp_path / "t.png") as im:
        assert json.loads(im.text["AIGC"])["ProduceID"] == "id-2"


def test_unlabelled_and_unreadable_files(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert read_aigc_label(tmp_path / "plain.png") is None
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_aigc_label(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\0junk" * 20)
    with pytest.raises(InvalidInputError, match="not a readable media file"):
        read_aigc_label(tmp_path / "junk.mp4")
    with pytest.raises(InvalidInputError, match=".png, .jpg or .jpeg"):
        save_labelled_image(Image.new("RGB", (4, 4)), tmp_path / "x.gif", default_label())
