"""The track-level layer: track ids per detection and a category per track."""
