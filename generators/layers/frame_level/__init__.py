"""The frame-level layer: detections, crops and crop-encoder features from decoded video."""
