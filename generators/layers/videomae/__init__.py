"""The ``videomae-features`` layer: token features of shot-centred clips, and their cache.

Modules: ``clips`` (cutting the shot-centred clips out of a game's videos), ``cache`` (the
token cache format, writer and contract-checked reader) and ``layer`` (the generator). The
``videomae`` role's implementation is :mod:`generators.models.videomae`.
"""
