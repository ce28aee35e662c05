"""Data readers: peers' feature folders, raw NTU skeleton folders (memory-mapped cache), CTR-GCN npz."""

from training.readers.common import filter_classes, relabel
from training.readers.features import (
    FeatureFolder,
    FeatureFolderError,
    FeatureSet,
    read_feature_folder,
    write_feature_folder,
)
from training.readers.npz import NpzFormatError, read_ctrgcn_npz
from training.readers.protocols import is_training, published_missing
from training.readers.skeleton_folder import (
    SkeletonCache,
    SkeletonCacheError,
    build_skeleton_cache,
    read_skeleton_cache,
)

__all__ = [
    "FeatureFolder", "FeatureFolderError", "FeatureSet", "NpzFormatError", "SkeletonCache",
    "SkeletonCacheError", "build_skeleton_cache", "filter_classes", "is_training", "published_missing",
    "read_ctrgcn_npz", "read_feature_folder", "read_skeleton_cache", "relabel", "write_feature_folder",
]
