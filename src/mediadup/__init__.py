"""mediadup: find duplicate and near-duplicate images and videos, and keep the best copy.

The Python API is `mediadup.api` (scan, plan, apply, undo, ignore, ...); its functions and the
result types are here too.
"""

from .api import (
    MediadupError,
    Plan,
    applies,
    apply,
    calibrate,
    forget,
    ignore,
    ignored,
    plan,
    scan,
    undo,
    write_review,
)
from .records import Group, GroupMember, ImageInfo, Relation, ScanResult, ScanSummary, Skipped, VideoInfo

__version__ = "0.1.0"
__all__ = [
    "Group", "GroupMember", "ImageInfo", "MediadupError", "Plan", "Relation", "ScanResult", "ScanSummary", "Skipped",
    "VideoInfo", "applies", "apply", "calibrate", "forget", "ignore", "ignored", "plan", "scan", "undo", "write_review",
]  # fmt: skip
