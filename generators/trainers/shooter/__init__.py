"""The dual-stream shooter-identification model (a consumer of artifacts, not a layer).

It reads, per shot, the ``shot-heatmaps`` tensor [T, 14, 14, 18] and the cached
``videomae-features`` tokens [t*14*14, D] and scores the five offensive slots O1-O5 as the
shooter (``seeds/000_f9af72576160b65f.txt``). Phase 1 trains it from the cached tokens with
VideoMAE frozen, and records the trained version in models.yaml with its lineage.

Modules: ``config`` (sizes, training config and report; no torch, so the command line stays
quick to start), ``model`` (the network and its weights file), ``batch`` (the per-shot item and batch
contract, player masks, the nearest-player heuristic), ``train`` (the Phase 1 loop and its
report), ``run`` (training from a workspace's artifacts and registering the result),
``synthetic`` (a learnable synthetic data set for tests and benchmarks).
"""
