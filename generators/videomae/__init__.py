"""VideoMAE video features: the ``videomae`` model role, the ``videomae-features`` layer and its token cache.

Modules: ``model`` (the role's implementation, wrapping transformers' ``VideoMAEModel``),
``build`` (``python -m generators.videomae.build``: seeded weights, or a converted local
checkpoint), ``clips`` (cutting the shot-centred clips out of a game's videos), ``cache`` (the
token cache format, writer and contract-checked reader) and ``layer`` (the generator).
"""
