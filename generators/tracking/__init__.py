"""The tracker of the track-level layer (model 3: tracker + category head) and its evaluation.

    params.py      TrackerParams: the fitted parameters, stored as a safetensors weights file
    tracker.py     Tracker: the model implementation (``from_weights``), online association
    categories.py  the category taxonomy and the category head (per-track aggregation)
    baseline.py    greedy nearest-neighbour association, the baseline the tracker must beat
    mot.py         SportsMOT / MOT Challenge ground truth, synthetic detections, MOT metrics
    fit.py         deterministic coordinate search of the parameters maximising IDF1

Nothing here is imported by the package itself: numpy, scipy and motmetrics load only when a
caller imports the module that needs them.
"""
