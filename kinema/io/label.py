"""The implicit AIGC label of GB 45438-2025 (China's labelling standard for AI-generated content).

The standard asks for an implicit label in the file's metadata: a JSON object under the key ``AIGC`` with
seven fields. Kinema writes it into

- MP4 files: a container metadata tag ``AIGC`` (written with ``movflags=use_metadata_tags`` so the mp4
  muxer keeps a custom key; without that flag ffmpeg silently drops it — checked by reading the file back);
- PNG files: an iTXt text chunk ``AIGC``;
- JPEG files: the COM (comment) segment, since JPEG has no key/value text chunks.

The value is the JSON object of the seven fields, e.g.
``{"Label": "1", "ContentProducer": "Kinema", "ProduceID": "…", …}``. ``Label`` follows the standard's
values: "1" = the content is AI-generated or synthesised, "2" = possibly, "3" = suspected. Kinema's own
output is always "1". The visible (explicit) label is ``kinema/io/visible_label.py``; C2PA manifests are
``kinema/io/provenance.py``, which keeps this label in place when it signs a file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from kinema.errors import InvalidInputError

METADATA_KEY = "AIGC"
LABEL_AI_GENERATED = "1"
DEFAULT_PRODUCER = "Kinema"


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class AIGCLabel:
    """The seven elements of the GB 45438-2025 implicit label (names as the standard spells them)."""

    Label: str = LABEL_AI_GENERATED
    ContentProducer: str = DEFAULT_PRODUCER
    ProduceID: str = field(default_factory=_new_id)
    ReservedCode1: str = ""
    ContentPropagator: str = ""
    PropagateID: str = ""
    ReservedCode2: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def to_json(self) -> str:
        # ensure_ascii=False keeps Chinese producer names readable in the file; compact separators keep
        # the tag short.
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> AIGCLabel:
        """Parse a label; accepts the bare field object or one wrapped as ``{"AIGC": {...}}``."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"The AIGC label is not valid JSON ({exc}); write it with AIGCLabel.to_json()."
            ) from exc
        if isinstance(data, dict) and METADATA_KEY in data and isinstance(data[METADATA_KEY], dict):
            data = data[METADATA_KEY]
        if not isinstance(data, dict):
            raise InvalidInputError("The AIGC label must be a JSON object of its fields; got a non-object.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"The AIGC label has unknown fields {unknown}; allowed fields are {sorted(known)}."
            )
        return cls(**{k: "" if v is None else str(v) for k, v in data.items()})


def default_label(produce_id: str | None = None) -> AIGCLabel:
    """The label Kinema puts on everything it writes: AI-generated, produced by Kinema, a fresh id."""
    return AIGCLabel(ProduceID=produce_id or _new_id())


class _DefaultLabel:
    """Sentinel type: "put a fresh default label on this file" (distinct from None = no label)."""

    _instance: _DefaultLabel | None = None

    def __new__(cls) -> _DefaultLabel:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT_LABEL"


DEFAULT_LABEL = _DefaultLabel()
LabelArg = AIGCLabel | _DefaultLabel | None


def resolve_label(label: LabelArg) -> AIGCLabel | None:
    """Turn a writer's ``label`` argument into the label to write (None = write no label)."""
    if isinstance(label, _DefaultLabel):
        return default_label()
    if label is None or isinstance(label, AIGCLabel):
        return label
    raise InvalidInputError(
        f"label must be an AIGCLabel, None (no label) or DEFAULT_LABEL; got {type(label).__name__}."
    )


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def read_aigc_label(path: str | Path) -> AIGCLabel | None:
    """Read the implicit label from an MP4/MOV, PNG or JPEG file; None if the file carries none."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"Cannot read an AIGC label: {path} does not exist or is not a file.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8") or path.suffix.lower() in _IMAGE_SUFFIXES:
        return _read_image_label(path)
    return _read_container_label(path)


def _read_image_label(path: Path) -> AIGCLabel | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # PNG text chunks before the pixels are in info without decoding them (Kinema writes them
            # there); `text` also finds chunks after the pixels but decodes the image to get there.
            text = im.info.get(METADATA_KEY)
            if text is None and hasattr(im, "text"):
                text = im.text.get(METADATA_KEY)
            if text is None and "comment" in im.info:  # JPEG COM segment
                comment = im.info["comment"]
                comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
                text = _label_from_comment(comment)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(
            f"Cannot read an AIGC label: {path} is not a readable image ({exc})."
        ) from exc
    return None if text is None else AIGCLabel.from_json(text)


def _label_from_comment(comment: str) -> str | None:
    """A JPEG comment holds ``{"AIGC": {...}}``; anything else is not a label."""
    try:
        data = json.loads(comment)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get(METADATA_KEY), dict):
        return json.dumps(data[METADATA_KEY])
    return None


def _read_container_label(path: Path) -> AIGCLabel | None:
    import av

    try:
        with av.open(str(path)) as container:
            text = container.metadata.get(METADATA_KEY)
            if text is None:
                for stream in container.streams:
                    text = stream.metadata.get(METADATA_KEY)
                    if text is not None:
                        break
    except av.FFmpegError as exc:
        raise InvalidInputError(
            f"Cannot read an AIGC label: {path} is not a readable media file ({exc})."
        ) from exc
    return None if text is None else AIGCLabel.from_json(text)


def png_text_chunks(label: AIGCLabel | None):  # -> PIL.PngImagePlugin.PngInfo | None
    """A PngInfo holding the label as an iTXt chunk (UTF-8), for ``Image.save(..., pnginfo=...)``."""
    if label is None:
        return None
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(METADATA_KEY, label.to_json())
    return info


def jpeg_comment(label: AIGCLabel) -> bytes:
    """The JPEG COM payload: ``{"AIGC": {...}}`` (wrapped, so a reader knows what the comment is)."""
    return json.dumps({METADATA_KEY: label.to_dict()}, ensure_ascii=False, separators=(",", ":")).encode()


def save_labelled_image(
    image, path: str | Path, label: AIGCLabel | None, quality: int = 92, visible_label=None
) -> None:
    """Save a PIL image as PNG or JPEG (by suffix) with the label embedded; other suffixes are refused.

    ``visible_label`` (a ``kinema.io.visible_label.VisibleLabel``) also burns the visible "AI生成" mark
    into the pixels."""
    from kinema.io.atomic import atomic_write_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise InvalidInputError(f"Cannot write an image to {path.name}: use a .png, .jpg or .jpeg file name.")
    if visible_label is not None:
        image = visible_label.stamp_image(image)
    with atomic_write_path(path) as tmp:
        if suffix == ".png":
            image.save(tmp, format="PNG", pnginfo=png_text_chunks(label))
        else:
            kwargs = {"comment": jpeg_comment(label)} if label is not None else {}
            image.convert("RGB").save(tmp, format="JPEG", quality=quality, **kwargs)
