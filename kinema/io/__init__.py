"""Kinema's file I/O: H.264 MP4 video, thumbnails and sprite sheets, safe image loading, and provenance: the
GB 45438-2025 AIGC label (implicit, in metadata; visible, in the pixels) and signed C2PA content credentials."""

from kinema.io.images import load_image, resize_and_crop
from kinema.io.label import DEFAULT_LABEL, AIGCLabel, default_label, read_aigc_label, save_labelled_image
from kinema.io.provenance import (
    Ingredient,
    ProvenanceInfo,
    SigningIdentity,
    load_signing_identity,
    read_provenance,
    sign_file,
)
from kinema.io.video import (
    AudioInfo,
    VideoInfo,
    VideoWriter,
    as_video_frames,
    iter_video_frames,
    probe_audio,
    probe_video,
    read_audio,
    read_video,
    write_spritesheet,
    write_thumbnail,
    write_video,
)
from kinema.io.visible_label import VisibleLabel

__all__ = [
    "DEFAULT_LABEL",
    "AIGCLabel",
    "AudioInfo",
    "Ingredient",
    "ProvenanceInfo",
    "SigningIdentity",
    "VideoInfo",
    "VideoWriter",
    "VisibleLabel",
    "as_video_frames",
    "default_label",
    "iter_video_frames",
    "load_image",
    "load_signing_identity",
    "probe_audio",
    "probe_video",
    "read_aigc_label",
    "read_audio",
    "read_provenance",
    "read_video",
    "resize_and_crop",
    "save_labelled_image",
    "sign_file",
    "write_spritesheet",
    "write_thumbnail",
    "write_video",
]
