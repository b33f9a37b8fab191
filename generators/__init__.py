"""The built-in parts of the tracking-to-training DAG, grouped by what a user does with them.

    layers/     what users build: frame_level, track_level, heatmaps (shot-heatmaps), videomae
                (videomae-features), clips (clips, clips-combined), and shots (the shot
                annotation and window they share); registered through entry points
    models/     the model implementations that models.yaml names (detector, crop encoder,
                tracker, VideoMAE) and their weights files
    reference/  training and evaluating the reference models on rendered games, and the
                workspaces that run them
    trainers/   consumers that train a model from artifacts: the dual-stream shooter model
    render/     rendered test games: video, cameras, shots and ground truth
    demo/       the embedded demo: its workspace, its small layers and its pictures

Imports point ``demo -> trainers, reference -> layers -> models``, and everything may use
``render``; see docs/architecture.md.
"""
