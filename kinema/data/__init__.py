"""Training data from files: a folder of videos/images with JSONL captions, aspect and duration buckets."""

from kinema.data.buckets import (
    DEFAULT_ASPECT_RATIOS,
    AspectBucket,
    BucketConfig,
    make_aspect_buckets,
    nearest_aspect_bucket,
    pick_frame_bucket,
)
from kinema.data.folder_dataset import VideoFolderDataset
from kinema.data.sampler import BucketBatchSampler

__all__ = [
    "DEFAULT_ASPECT_RATIOS",
    "AspectBucket",
    "BucketBatchSampler",
    "BucketConfig",
    "VideoFolderDataset",
    "make_aspect_buckets",
    "nearest_aspect_bucket",
    "pick_frame_bucket",
]
