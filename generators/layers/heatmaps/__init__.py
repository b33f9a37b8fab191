"""Shot-centred track heatmaps: [16, 14, 14, 18] per shot, their lossless storage and readers.

Modules: ``layout`` (channels, the record a shot is stored as, the origin-derived channels),
``slots`` (which channel each detection lights), ``rasterise`` (vectorised, all shots of a chunk
at once), ``codec`` (records <-> float32 tensors), ``store`` (zarr v3 writer and fast reader),
``upstream`` (the frame-level and track-level tables read a row group at a time, only the
windows' rows), ``layer`` (the ``shot-heatmaps`` generator, chunked by batches of shots) and
``sportvu`` (the same heatmaps from real SportVU positions). Only ``layer`` is imported by layer
discovery, and it imports nothing heavy.
"""
