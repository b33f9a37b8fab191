"""Detector then crop encoder on decoded frames: the frame-level layer's computation.

Shared by the layer and by the reference tracker's fit (:mod:`generators.reference.build`),
which must see exactly the detections the layer would write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.models.crop_encoder import CropEncoder, crop_boxes, extract_crops
from generators.models.detector import FootpointDetector


@dataclass(frozen=True)
class FrameDetections:
    """Detections of a batch of frames, one row each: ``frame`` [N] the frame's number (from
    ``frame_index``), ``xy`` [N, 2] foot-points, ``confidence`` [N], and the crop encoder's
    ``embedding`` [N, D], ``jersey`` [N, 133], ``team_probs`` [N, 3]; and ``per_frame`` [B], the
    number of detections of each frame of the batch (to count frames at the detector's maximum)."""

    frame: NDArray[np.int32]
    xy: NDArray[np.float32]
    confidence: NDArray[np.float32]
    embedding: NDArray[np.float32]
    jersey: NDArray[np.float32]
    team_probs: NDArray[np.float32]
    per_frame: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.frame.shape[0])


def detect_and_encode(detector: FootpointDetector, encoder: CropEncoder, frames: NDArray[np.uint8], frame_index: NDArray[np.int32],
                      figure_height_px: float = 0.0, max_detections: int | None = None) -> FrameDetections:
    """Foot-points of every frame of ``frames`` [B, H, W, 3] and the features of their crops.

    ``frame_index`` [B] numbers the frames in their video; rows come out in frame order, most
    confident first within a frame. ``figure_height_px`` sizes the crops (0: the crop
    encoder's default share of the frame height). ``max_detections`` caps the detections per
    frame (None: the detector's own maximum). All crops of the batch go through the encoder
    together, in its own batches.
    """
    found = detector.detect(frames, max_detections=max_detections)
    counts = np.array([len(d) for d in found], dtype=np.int64)
    dim = int(encoder.embedding_dim)
    if counts.sum() == 0:
        z = np.zeros(0, np.float32)
        return FrameDetections(np.zeros(0, np.int32), np.zeros((0, 2), np.float32), z, np.zeros((0, dim), np.float32),
                               np.zeros((0, 133), np.float32), np.zeros((0, 3), np.float32), counts)
    det = np.concatenate([d for d in found if len(d)]).astype(np.float32)
    owner = np.repeat(np.arange(len(found)), counts)
    crops = []
    for i in np.flatnonzero(counts):
        rows = found[i]
        heights = np.full(len(rows), figure_height_px, np.float32)
        boxes = crop_boxes(rows[:, 0], rows[:, 1], heights, encoder.crop_size, frames.shape[1:3])
        crops.append(extract_crops(frames[i], boxes, encoder.crop_size))
    feats = encoder.encode(np.concatenate(crops))
    return FrameDetections(
        frame=np.asarray(frame_index, np.int32)[owner], xy=np.ascontiguousarray(det[:, :2]), confidence=np.ascontiguousarray(det[:, 2]),
        embedding=feats.embedding.astype(np.float32), jersey=feats.jersey.astype(np.float32), team_probs=feats.team.astype(np.float32), per_frame=counts,
    )
