"""Clips and video-model tuning data from annotated plays (seed 003).

Modules, one concept each: ``plays`` (the annotation, validated play by play), ``cut`` (PyAV
cutting of time windows into mp4), ``examples`` (the JSONL example model and the split rule),
``layer`` (the per-game ``clips`` layer), ``combined`` (``clips-combined``, the cross-game merge).
"""
