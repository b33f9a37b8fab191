"""The reference detector and crop encoder: reproducible training, weights files, output contracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from artifacts.errors import ModelWeightsError
from artifacts.keys import hash_file
from generators.models import jersey
from generators.models.crop_encoder import CropEncoder, CropEncoderConfig, CropEncoderNet
from generators.models.crops import PAD_VALUE, crop_boxes, extract_crops
from generators.models.detector import STRIDE, DetectorConfig, DetectorNet, FootpointDetector, decode
from generators.models.training import reproducible
from generators.reference.data import load_views, render_games
from generators.reference.evaluate import evaluate_detector, evaluate_encoder, match
from generators.reference.fit_detector import DetectorTraining
from generators.reference.fit_encoder import EncoderTraining
from generators.reference.repaint import number_pixels, repaint_number
from generators.reference.train import train_reference_models

CPU = torch.device("cpu")


def _random_detector(seed: int = 0) -> FootpointDetector:
    with reproducible(seed):
        config = DetectorConfig(threshold=0.001)
        return FootpointDetector(config, DetectorNet(config), CPU)


def _random_encoder(seed: int = 0) -> CropEncoder:
    with reproducible(seed):
        config = CropEncoderConfig()
        return CropEncoder(config, CropEncoderNet(config), CPU)


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render cache shared by the tests of this module."""
    return tmp_path_factory.mktemp("render-cache")


def test_tiny_training_twice_gives_identical_weights_and_leaves_torch_as_it_was(tmp_path: Path, games: Path) -> None:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    digests = []
    for run in ("a", "b"):
        paths = train_reference_models(tmp_path / run, seed=3, games=1, seconds=1.0, cache_dir=games,
                                       detector=DetectorTraining(steps=4, batch=2), encoder=EncoderTraining(epochs=1, batch=16))
        assert sorted(paths) == ["crop_encoder", "detector"]
        digests.append({role: hash_file(p) for role, p in paths.items()})
    assert digests[0] == digests[1]
    other = train_reference_models(tmp_path / "c", seed=4, games=1, seconds=1.0, cache_dir=games,
                                   detector=DetectorTraining(steps=4, batch=2), encoder=EncoderTraining(epochs=1, batch=16))
    assert hash_file(other["detector"]) != digests[0]["detector"]
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, deterministic)


def test_a_short_training_finds_players_and_teams_on_a_held_out_game(tmp_path: Path, games: Path) -> None:
    paths = train_reference_models(tmp_path, seed=0, games=2, seconds=2.0, cache_dir=games,
                                   detector=DetectorTraining(steps=400), encoder=EncoderTraining(epochs=6, ramp_epochs=0))
    held_out = load_views(render_games(games, 0, "test", 1, 1.0))
    detection = evaluate_detector(FootpointDetector.from_weights(str(paths["detector"])), held_out)
    assert detection.recall > 0.5 and detection.precision > 0.7
    assert detection.mean_error_px < 3.0
    encoder = evaluate_encoder(CropEncoder.from_weights(str(paths["crop_encoder"])), held_out, use_true_height=True)
    assert encoder.team_accuracy > 0.7


def test_detector_weights_round_trip_and_carry_the_config(tmp_path: Path) -> None:
    det = _random_detector()
    det.save(tmp_path / "d.safetensors")
    loaded = FootpointDetector.from_weights(str(tmp_path / "d.safetensors"))
    assert loaded.config == det.config and loaded.threshold == 0.001
    mine, theirs = det.net.state_dict(), loaded.net.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k].cpu()) for k in mine)
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 64, 96, 3), dtype=np.uint8)
    a, b = det.detect(frames), loaded.detect(frames)
    assert len(a) == len(b) == 3
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_encoder_weights_round_trip_and_carry_the_config(tmp_path: Path) -> None:
    enc = _random_encoder()
    enc.save(tmp_path / "e.safetensors")
    loaded = CropEncoder.from_weights(str(tmp_path / "e.safetensors"))
    assert loaded.crop_size == (64, 32) and loaded.embedding_dim == 64
    crops = np.random.default_rng(1).integers(0, 256, size=(5, 64, 32, 3), dtype=np.uint8)
    a, b = enc.encode(crops), loaded.encode(crops)
    for x, y in ((a.embedding, b.embedding), (a.jersey, b.jersey), (a.team, b.team)):
        np.testing.assert_array_equal(x, y)


def test_weights_of_another_kind_or_garbage_are_refused_with_the_file_named(tmp_path: Path) -> None:
    _random_encoder().save(tmp_path / "e.safetensors")
    with pytest.raises(ModelWeightsError, match=r"e\.safetensors.*crop-encoder/1.*footpoint-detector/1"):
        FootpointDetector.from_weights(str(tmp_path / "e.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ModelWeightsError, match="junk.safetensors"):
        CropEncoder.from_weights(str(tmp_path / "junk.safetensors"))


def test_weights_bytes_depend_only_on_the_tensors_and_config(tmp_path: Path) -> None:
    det = _random_detector(seed=7)
    det.save(tmp_path / "a.safetensors")
    _random_detector(seed=7).save(tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_decode_puts_a_peak_at_its_cell_plus_offset_in_frame_pixels() -> None:
    out = torch.full((1, 3, 10, 20), -10.0)
    out[0, 0, 6, 13] = 5.0  # a confident peak at row 6, column 13
    out[0, 1, 6, 13] = 0.0  # offset x 0.5 of a cell
    out[0, 2, 6, 13] = float(np.log(0.25 / 0.75))  # offset y 0.25
    out[0, 0, 1, 1] = 0.0  # probability 0.5: kept at threshold 0.4, not at 0.6
    (det,) = decode(out, 0.4, 10, 40, 80)
    np.testing.assert_allclose(det[0], [(13 + 0.5) * STRIDE, (6 + 0.25) * STRIDE, 1 / (1 + np.exp(-5.0))], rtol=1e-6)
    assert det.shape == (2, 3) and det[1, 2] == pytest.approx(0.5)
    (det,) = decode(out, 0.6, 10, 40, 80)
    assert det.shape == (1, 3)
    (det,) = decode(out, 0.4, 10, 20, 40)  # the peak lies in padding beyond a 40 x 20 frame
    assert det.shape == (1, 3) and det[0, 0] < 40


def test_detect_returns_frame_pixel_foot_points_for_any_size_and_batch() -> None:
    det = _random_detector()
    frames = np.random.default_rng(2).integers(0, 256, size=(5, 100, 150, 3), dtype=np.uint8)  # not multiples of 8
    found = det.detect(frames, batch_size=2)
    assert len(found) == 5
    assert sum(f.shape[0] for f in found) > 0
    for f in found:
        assert f.dtype == np.float32 and f.ndim == 2 and f.shape[1] == 3
        assert ((f[:, 0] >= 0) & (f[:, 0] < 150) & (f[:, 1] >= 0) & (f[:, 1] < 100)).all()
        assert ((f[:, 2] >= 0.001) & (f[:, 2] <= 1)).all() and (np.diff(f[:, 2]) <= 0).all()
    with pytest.raises(ValueError, match="uint8"):
        det.detect(frames.astype(np.float32))


def test_encode_contract() -> None:
    enc = _random_encoder()
    feats = enc.encode(np.random.default_rng(3).integers(0, 256, size=(7, 64, 32, 3), dtype=np.uint8), batch_size=3)
    assert len(feats) == 7
    assert feats.embedding.shape == (7, 64) and feats.jersey.shape == (7, jersey.JERSEY_DIM) and feats.team.shape == (7, 3)
    assert all(a.dtype == np.float32 for a in (feats.embedding, feats.jersey, feats.team))
    np.testing.assert_allclose(np.linalg.norm(feats.embedding, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(feats.team.sum(axis=1), 1.0, rtol=1e-5)
    assert len(enc.encode(np.zeros((0, 64, 32, 3), np.uint8))) == 0
    with pytest.raises(ValueError, match=r"\[N, 64, 32, 3\]"):
        enc.encode(np.zeros((2, 32, 32, 3), np.uint8))


def test_whole_number_log_probabilities_come_from_objectness_and_digits() -> None:
    g = torch.Generator().manual_seed(0)
    obj, single, tens, units = (torch.randn(50, n, generator=g) for n in (3, 10, 10, 10))
    whole = jersey.compose_whole(obj, single, tens, units)
    lo, ls, lt, lu = (torch.log_softmax(t, dim=1) for t in (obj, single, tens, units))
    torch.testing.assert_close(whole[:, 42], lo[:, 2] + lt[:, 4] + lu[:, 2])
    torch.testing.assert_close(whole[:, 7], lo[:, 1] + ls[:, 7])
    # The 100 numbers' probabilities sum to p(one digit) + p(two digits, tens 1-9).
    p = torch.softmax(obj, dim=1)
    torch.testing.assert_close(whole.exp().sum(dim=1), p[:, 1] + p[:, 2] * (1 - torch.softmax(tens, dim=1)[:, 0]))


def test_jersey_targets_and_decoding_round_trip() -> None:
    numbers = np.array([-1, 0, 7, 10, 42, 99])
    t = jersey.targets(numbers)
    np.testing.assert_array_equal(t[:, 0], [0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(t[:, 1], [jersey.IGNORE, 0, 7, jersey.IGNORE, jersey.IGNORE, jersey.IGNORE])
    np.testing.assert_array_equal(t[:, 2:4], [[jersey.IGNORE] * 2, [jersey.IGNORE] * 2, [jersey.IGNORE] * 2, [1, 0], [4, 2], [9, 9]])
    logits = np.full((6, jersey.JERSEY_DIM), -5.0, np.float32)
    for row, target in enumerate(t):
        for column, part in enumerate((jersey.OBJECTNESS, jersey.SINGLE, jersey.TENS, jersey.UNITS, jersey.WHOLE)):
            if target[column] != jersey.IGNORE:
                logits[row, part.start + target[column]] = 5.0
    np.testing.assert_array_equal(jersey.decode_digits(logits), numbers)
    np.testing.assert_array_equal(jersey.decode_whole(logits), numbers)


def test_crop_boxes_stand_on_the_foot_point_and_fall_back_to_a_default_height() -> None:
    boxes = crop_boxes([100.0, 50.0, 10.0], [200.0, 80.0, 5.0], [40.0, np.nan, -1.0], (64, 32), (360, 640))
    x0, y0, x1, y1 = boxes[0]
    assert (x0 + x1) / 2 == pytest.approx(100.0) and y0 < 200.0 - 40.0 < 200.0 < y1
    assert (x1 - x0) / (y1 - y0) == pytest.approx(32 / 64)
    # Unknown heights take the default: 40 px in a 360 px frame, scaled with the frame.
    np.testing.assert_allclose(boxes[1, 3] - boxes[1, 1], boxes[0, 3] - boxes[0, 1], rtol=1e-6)
    np.testing.assert_allclose(boxes[2, 3] - boxes[2, 1], boxes[0, 3] - boxes[0, 1], rtol=1e-6)
    tall = crop_boxes([100.0], [200.0], None, (64, 32), (720, 1280))
    np.testing.assert_allclose(tall[0, 3] - tall[0, 1], 2 * (boxes[0, 3] - boxes[0, 1]), rtol=1e-6)
    fixed = crop_boxes([100.0], [200.0], None, (64, 32), (720, 1280), default_height_px=40.0)
    np.testing.assert_allclose(fixed, boxes[:1], rtol=1e-6)


def test_extract_crops_resamples_boxes_and_pads_outside_the_frame() -> None:
    frame = np.random.default_rng(4).integers(1, 256, size=(30, 40, 3), dtype=np.uint8)
    boxes = np.array([[5, 3, 13, 19], [-4, -4, 4, 12], [100, 100, 108, 116]], dtype=np.float32)
    crops = extract_crops(frame, boxes, (16, 8))
    assert crops.shape == (3, 16, 8, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[0], frame[3:19, 5:13])  # a pixel-aligned box of the crop's size: the pixels
    np.testing.assert_array_equal(crops[1, 4:, 4:], frame[0:12, 0:4])
    assert (crops[1, :4] == PAD_VALUE).all() and (crops[1, :, :4] == PAD_VALUE).all()
    assert (crops[2] == PAD_VALUE).all()
    half = extract_crops(frame, np.array([[0, 0, 40, 30]], np.float32), (15, 20))[0]  # 2x downsampling: means of 2x2 blocks
    expect = frame.reshape(15, 2, 20, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(half.astype(np.float64) - expect).max() <= 0.5 + 1e-9


def test_repaint_draws_exactly_where_the_renderer_drew_the_number(games: Path) -> None:
    (view, _) = load_views(render_games(games, 5, "test", 1, 1.0))
    f = 0
    players = [k for k in range(view.team.shape[0]) if view.team[k] < 2 and view.visible_frac[f, k] > 0.99]
    assert players
    k = players[0]
    foot = (float(view.px[f, k]), float(view.py[f, k]), float(view.height_px[f, k]))
    rows, cols = number_pixels(int(view.jersey[k]), *foot, view.frames.shape[1:3])
    assert rows.size > 5 and view.frames[f, rows, cols].mean() > 200  # the white digits
    frame = view.frames[f].copy()
    new = 8 if view.jersey[k] != 8 else 3
    repaint_number(frame, *foot, int(view.team[k]), int(view.jersey[k]), new)
    rows_new, cols_new = number_pixels(new, *foot, view.frames.shape[1:3])
    assert (frame[rows_new, cols_new] > 240).all()
    old_only = np.setdiff1d(rows * 10_000 + cols, rows_new * 10_000 + cols_new)
    assert old_only.size == 0 or frame[old_only // 10_000, old_only % 10_000].mean() < 200


def test_match_pairs_within_the_radius_one_to_one() -> None:
    det = np.array([[10, 10, 0.9], [12, 10, 0.8], [50, 50, 0.7]], np.float32)
    truth = np.array([[11, 10], [100, 100]], np.float32)
    rows, cols = match(det, truth, 6.0)
    assert rows.shape == (1,) and cols.tolist() == [0]
    assert match(det[:0], truth, 6.0)[0].shape == (0,)

