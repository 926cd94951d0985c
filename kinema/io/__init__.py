"""Kinema's file I/O: H.264 MP4 video, thumbnails and sprite sheets, the AIGC label, safe image loading."""

from kinema.io.images import load_image, resize_and_crop
from kinema.io.label import DEFAULT_LABEL, AIGCLabel, default_label, read_aigc_label, save_labelled_image
from kinema.io.video import (
    VideoInfo,
    VideoWriter,
    as_video_frames,
    iter_video_frames,
    probe_video,
    read_video,
    write_spritesheet,
    write_thumbnail,
    write_video,
)

__all__ = [
    "DEFAULT_LABEL",
    "AIGCLabel",
    "VideoInfo",
    "VideoWriter",
    "as_video_frames",
    "default_label",
    "iter_video_frames",
    "load_image",
    "probe_video",
    "read_aigc_label",
    "read_video",
    "resize_and_crop",
    "save_labelled_image",
    "write_spritesheet",
    "write_thumbnail",
    "write_video",
]
