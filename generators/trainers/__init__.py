"""Consumers that train a model from artifacts: read them through typed readers, register the result.

``shooter``: the dual-stream shooter-identification model (Phase 1 from cached features).
"""
