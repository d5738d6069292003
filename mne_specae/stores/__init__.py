"""Segment stores: recordings found in files, folders and BIDS trees, prepared in
parallel into a store on disk, and read back with bounded memory."""

from .preparation import prepare_segments
from .store import SegmentStore, read_segments

__all__ = ["SegmentStore", "prepare_segments", "read_segments"]
