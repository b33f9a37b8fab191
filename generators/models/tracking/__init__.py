"""The tracker of the track-level layer (model 3: tracker + category head).

    params.py      TrackerParams: the fitted parameters, stored as a safetensors weights file
    tracker.py     Tracker: the model implementation (``from_weights``), online association
    state.py       TrackerState: the association's state between frames, fed in pieces, saved and restored
    categories.py  the category taxonomy and the category head (per-track aggregation)

Fitting it and scoring it against ground truth live in :mod:`generators.reference`
(``fit_tracker``, ``tracker_baseline``, ``mot``). Nothing here is imported by the package
itself: numpy and scipy load only when a caller imports the module that needs them.
"""
