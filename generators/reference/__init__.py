"""The reference models: trained reproducibly on rendered games, evaluated against their truth.

``build`` (``python -m generators.reference.build OUT``: all three models), ``train`` and
``evaluate`` (the detector and crop encoder), with ``data`` (rendered training data),
``fit_detector``, ``fit_encoder`` and ``repaint``; ``fit_tracker`` (the tracker's coordinate
search), ``tracker_baseline`` and ``mot`` (SportsMOT ground truth and MOT metrics);
``evaluate_pipeline`` (frame-level + track-level end to end, built by the engine) and
``workspace`` (models.yaml of a workspace that runs the reference models).
"""
