"""Shot annotations and the shot-centred window that heatmaps and video features share."""
