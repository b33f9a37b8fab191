"""The embedded game source: rendered basketball video with ground truth.

``render_game`` writes H.264 videos of a game (one per camera), the shots annotation, the
cameras and per-frame ground truth; its play comes from a seeded simulation
(:func:`simulate`) or from real SportVU tracking (:class:`SportVUSource`). See
:mod:`generators.render.game` for the files and their columns.

Modules, one concept each: ``trajectories`` (the game as values), ``simulate``, ``sportvu``,
``court`` (geometry), ``camera`` (projection), ``font`` and ``draw`` (pixels), ``video``
(mp4 in and out), ``game`` (the directory).
"""

from generators.render.camera import CAMERA_PRESETS, DEFAULT_CAMERAS, Camera, fit_camera, preset_camera
from generators.render.game import DEFAULT_SIZE, RenderedGame, render_game, render_trajectories
from generators.render.simulate import simulate
from generators.render.sportvu import SportVUSource, load_sportvu
from generators.render.trajectories import Shot, Trajectories
from generators.render.video import VideoInfo, VideoWriter, probe, read_frames

__all__ = [
    "CAMERA_PRESETS",
    "DEFAULT_CAMERAS",
    "DEFAULT_SIZE",
    "Camera",
    "RenderedGame",
    "Shot",
    "SportVUSource",
    "Trajectories",
    "VideoInfo",
    "VideoWriter",
    "fit_camera",
    "load_sportvu",
    "preset_camera",
    "probe",
    "read_frames",
    "render_game",
    "render_trajectories",
    "simulate",
]
