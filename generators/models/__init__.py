"""Model implementations: the classes models.yaml names in ``implementation:``, and their weights.

Each implementation rebuilds itself from its weights file alone (``from_weights(path)``): the
file's safetensors metadata holds the architecture. How the reference versions are trained
is in :mod:`generators.reference`.

Modules: ``detector`` (model 1, foot-points) and ``crop_encoder`` (model 2, Path A), with
``crops`` (crop boxes and resampling), ``jersey`` (the 133 jersey-number features) and
``weights`` (the file format); ``tracking`` (model 3: tracker and category head);
``videomae`` (the ``videomae`` role, wrapping transformers' ``VideoMAEModel``) and
``videomae_weights`` (seeded weights, or a converted local checkpoint); ``training`` (the
reproducible torch session every training loop shares).
"""
