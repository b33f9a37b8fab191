"""MOT Challenge ground truth (as SportsMOT ships it), detections made from it, and scores.

- :func:`read_sequence` reads a sequence folder: ``seqinfo.ini`` and ``gt/gt.txt``, whose rows
  are ``frame (1-based), track_id, bb_left, bb_top, bb_width, bb_height, conf, class,
  visibility`` in pixels. Rows with ``conf == 0`` are MOT's "ignore" boxes and are dropped.
- :func:`detections_from_gt` turns the boxes into detections without ids: the foot-point of
  a box is its bottom-centre. Optionally with seeded noise, dropouts and false positives
  (:class:`DetectionNoise`), to stand in for a detector.
- :func:`evaluate` scores tracks against the ground truth with ``motmetrics`` (IDF1, MOTA, ID
  switches, ...), matching a track's foot-point to a ground-truth foot-point of the same
  frame when they are at most ``threshold`` apart (pixels for SportsMOT).
- :func:`idf1` computes the same IDF1 directly (vectorised, no pandas); fitting calls it
  hundreds of times. ``tests/test_tracker.py`` checks that the two agree.
"""

from __future__ import annotations

import configparser
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import linear_sum_assignment

from artifacts.errors import SourceError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class SequenceInfo(BaseModel):
    """The ``[Sequence]`` section of a ``seqinfo.ini``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    frame_rate: float
    length: int
    width: int
    height: int


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth boxes as foot-points: [N] frame, [N] track_id, [N, 2] xy, [N] box height."""

    frame: IntArray
    track_id: IntArray
    xy: FloatArray
    height: FloatArray


@dataclass(frozen=True)
class MotSequence:
    """One sequence: its info and its ground truth."""

    info: SequenceInfo
    gt: GroundTruth


@dataclass(frozen=True)
class Detections:
    """Detections without ids, sorted by frame: [N] frame, [N, 2] xy, [N] confidence."""

    frame: IntArray
    xy: FloatArray
    conf: FloatArray


class DetectionNoise(BaseModel):
    """How :func:`detections_from_gt` degrades the ground truth into detector-like output.

    True detections get confidences uniform in [0.4, 1.0); false positives uniform in
    [0.1, 0.6), so a confidence threshold separates them only partly, as with a real detector.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    position_sigma: float = Field(default=0.03, ge=0)
    """Standard deviation of the foot-point error per axis, as a fraction of the box height
    (a detector errs in proportion to the player's size on screen)."""
    dropout: float = Field(default=0.1, ge=0, lt=1)
    """Probability that a ground-truth box yields no detection (independent per box)."""
    false_positives_per_frame: float = Field(default=0.5, ge=0)
    """Mean number (Poisson) of false detections per frame, uniform over the image."""


class MotScores(BaseModel):
    """Standard MOT scores of one sequence (motmetrics' definitions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idf1: float
    mota: float
    id_switches: int
    recall: float
    precision: float
    num_objects: int
    num_predictions: int


def parse_gt(text: str, source: str = "gt.txt") -> GroundTruth:
    """Ground truth from the text of a MOT ``gt.txt`` (``source`` names it in errors)."""
    try:
        rows = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise SourceError("MOT ground truth", source, f"is not comma-separated numbers ({e})", "give a MOT Challenge gt.txt") from None
    if rows.size == 0:
        rows = np.zeros((0, 9))
    if rows.shape[1] < 7:
        raise SourceError("MOT ground truth", source, f"has {rows.shape[1]} columns, fewer than the 7 of MOT rows", "give a MOT Challenge gt.txt")
    rows = rows[rows[:, 6] != 0]
    left, top, width, height = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    return GroundTruth(
        frame=rows[:, 0].astype(np.int64),
        track_id=rows[:, 1].astype(np.int64),
        xy=np.stack([left + width / 2.0, top + height], axis=1),
        height=height.copy(),
    )


def read_seqinfo(path: str | Path) -> SequenceInfo:
    """The ``[Sequence]`` section of a ``seqinfo.ini``."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(Path(path).read_text(), source=str(path))
        section = parser["Sequence"]
        return SequenceInfo(
            name=section["name"],
            frame_rate=float(section["frameRate"]),
            length=int(section["seqLength"]),
            width=int(section["imWidth"]),
            height=int(section["imHeight"]),
        )
    except (OSError, KeyError, ValueError, configparser.Error) as e:
        raise SourceError("seqinfo.ini", str(path), f"is missing or malformed ({e})", "give a MOT Challenge seqinfo.ini") from None


def read_sequence(folder: str | Path) -> MotSequence:
    """A MOT Challenge sequence folder: ``seqinfo.ini`` and ``gt/gt.txt``."""
    folder = Path(folder)
    gt_path = folder / "gt" / "gt.txt"
    try:
        text = gt_path.read_text()
    except OSError as e:
        raise SourceError("MOT ground truth", str(gt_path), f"cannot be read ({e.strerror})", "point at a sequence folder with gt/gt.txt") from None
    return MotSequence(info=read_seqinfo(folder / "seqinfo.ini"), gt=parse_gt(text, str(gt_path)))


def detections_from_gt(gt: GroundTruth, info: SequenceInfo, noise: DetectionNoise | None = None, seed: int = 0) -> Detections:
    """Detections without ids from ground-truth foot-points, sorted by frame.

    Within a frame the rows are shuffled (seeded), so their order says nothing of the ids.
    Without ``noise`` every box yields its exact foot-point with confidence 1; with it, see
    :class:`DetectionNoise` (false positives fall on frames 1..``info.length``). Equal inputs
    and ``seed`` give equal detections.
    """
    rng = np.random.default_rng(seed)
    frame, xy, conf = gt.frame, gt.xy.copy(), np.ones(len(gt.frame))
    if noise is not None:
        keep = rng.random(len(frame)) >= noise.dropout
        xy = xy + rng.standard_normal(xy.shape) * (noise.position_sigma * gt.height)[:, None]
        conf = rng.uniform(0.4, 1.0, len(frame))
        frame, xy, conf = frame[keep], xy[keep], conf[keep]
        counts = rng.poisson(noise.false_positives_per_frame, info.length)
        fp_frame = np.repeat(np.arange(1, info.length + 1, dtype=np.int64), counts)
        fp_xy = rng.uniform((0.0, 0.0), (info.width, info.height), (len(fp_frame), 2))
        fp_conf = rng.uniform(0.1, 0.6, len(fp_frame))
        frame = np.concatenate([frame, fp_frame])
        xy = np.concatenate([xy, fp_xy])
        conf = np.concatenate([conf, fp_conf])
    order = np.lexsort((rng.random(len(frame)), frame))
    return Detections(frame=frame[order], xy=xy[order], conf=conf[order])


def _frame_slices(frames: IntArray, wanted: IntArray) -> tuple[IntArray, IntArray]:
    """For rows sorted by frame, the [lo, hi) row range of each frame in ``wanted``."""
    return np.searchsorted(frames, wanted, "left"), np.searchsorted(frames, wanted, "right")


def _hypotheses(frame: npt.ArrayLike, xy: npt.ArrayLike, track_ids: npt.ArrayLike) -> tuple[IntArray, FloatArray, IntArray]:
    """Reported hypotheses (track id >= 0), sorted by frame."""
    f = np.asarray(frame).astype(np.int64)
    p = np.asarray(xy, dtype=np.float64)
    ids = np.asarray(track_ids).astype(np.int64)
    if p.shape != (len(f), 2) or ids.shape != f.shape:
        raise ValueError(f"xy must be [{len(f)}, 2] and track_ids [{len(f)}], got {list(p.shape)} and {list(ids.shape)}")
    keep = ids >= 0
    f, p, ids = f[keep], p[keep], ids[keep]
    order = np.argsort(f, kind="stable")
    return f[order], p[order], ids[order]


def idf1(gt: GroundTruth, frame: npt.ArrayLike, xy: npt.ArrayLike, track_ids: npt.ArrayLike, threshold: float) -> float:
    """IDF1 of the tracks against ``gt`` (same definition and matching as :func:`evaluate`).

    IDF1 = 2 IDTP / (ground-truth detections + reported detections), where IDTP is the most
    frames a one-to-one pairing of ground-truth ids with track ids can have within
    ``threshold``. Computed from every within-threshold (gt, hypothesis) pair at once.
    """
    hf, hxy, hid = _hypotheses(frame, xy, track_ids)
    g_order = np.argsort(gt.frame, kind="stable")
    gf, gxy, gid = gt.frame[g_order], gt.xy[g_order], gt.track_id[g_order]
    total = len(gf) + len(hf)
    if total == 0:
        return 1.0
    lo, hi = _frame_slices(hf, gf)
    counts = hi - lo
    g_rows = np.repeat(np.arange(len(gf)), counts)
    h_rows = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    near = np.linalg.norm(gxy[g_rows] - hxy[h_rows], axis=1) <= threshold
    g_vals, g_idx = np.unique(gid[g_rows[near]], return_inverse=True)
    h_vals, h_idx = np.unique(hid[h_rows[near]], return_inverse=True)
    together = np.zeros((len(g_vals), len(h_vals)))
    np.add.at(together, (g_idx, h_idx), 1.0)
    r, c = linear_sum_assignment(together, maximize=True)
    return float(2.0 * together[r, c].sum() / total)


def evaluate(gt: GroundTruth, frame: npt.ArrayLike, xy: npt.ArrayLike, track_ids: npt.ArrayLike, threshold: float) -> MotScores:
    """MOT scores of the tracks (detections with ``track_ids`` >= 0) against ``gt``, computed
    by ``motmetrics`` over every frame that has ground truth or tracks; a track and a
    ground-truth foot-point can match when at most ``threshold`` apart."""
    import motmetrics as mm

    hf, hxy, hid = _hypotheses(frame, xy, track_ids)
    g_order = np.argsort(gt.frame, kind="stable")
    gf, gxy, gid = gt.frame[g_order], gt.xy[g_order], gt.track_id[g_order]
    frames = np.union1d(gf, hf)
    g_lo, g_hi = _frame_slices(gf, frames)
    h_lo, h_hi = _frame_slices(hf, frames)
    acc = mm.MOTAccumulator(auto_id=False)
    for f, gl, gh, hl, hh in zip(frames.tolist(), g_lo.tolist(), g_hi.tolist(), h_lo.tolist(), h_hi.tolist(), strict=True):
        dist = np.linalg.norm(gxy[gl:gh, None, :] - hxy[None, hl:hh, :], axis=2)
        acc.update(gid[gl:gh], hid[hl:hh], np.where(dist <= threshold, dist, np.nan), frameid=f)
    names = ["idf1", "mota", "num_switches", "recall", "precision", "num_objects", "num_predictions"]
    row = mm.metrics.create().compute(acc, metrics=names, name="seq").iloc[0]
    return MotScores(
        idf1=_finite(row["idf1"]),
        mota=_finite(row["mota"]),
        id_switches=int(row["num_switches"]),
        recall=_finite(row["recall"]),
        precision=_finite(row["precision"]),
        num_objects=int(row["num_objects"]),
        num_predictions=int(row["num_predictions"]),
    )


def _finite(value: object) -> float:
    # motmetrics gives NaN for ratios over zero counts (no objects, no predictions).
    v = float(value)  # type: ignore[arg-type]
    return v if np.isfinite(v) else 0.0
