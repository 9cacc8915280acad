"""mediadup: find duplicate and near-duplicate images and keep the best copy."""

from .records import Group, GroupMember, ImageInfo, Relation, ScanResult, ScanSummary, Skipped
from .scan import scan

__version__ = "0.1.0"
__all__ = ["Group", "GroupMember", "ImageInfo", "Relation", "ScanResult", "ScanSummary", "Skipped", "scan"]
