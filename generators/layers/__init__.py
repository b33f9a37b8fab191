"""The layers users build, one subpackage each; their generators are registered as entry points.

``frame_level`` (detections, crops, embeddings), ``track_level`` (tracks and categories),
``heatmaps`` (``shot-heatmaps``), ``videomae`` (``videomae-features``), ``clips`` (``clips`` and
the ``clips-combined`` combiner), and ``shots`` (the shot annotation and the shot-centred
window that heatmaps and video features share). ``seek`` decodes chosen frames of a long
video by seeking (video features and its tests). Layer discovery imports only each ``layer``
module, which imports nothing heavy.
"""
