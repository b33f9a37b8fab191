"""The reference models: the foot-point detector (model 1) and the crop encoder (model 2, Path A).

Small enough for a CPU, trained by :mod:`generators.models.train` on rendered games and judged
by :mod:`generators.models.evaluate`. Weights are safetensors files whose metadata holds the
architecture, so ``from_weights(path)`` rebuilds each model from the file alone.

Modules: ``detector`` and ``crop_encoder`` (the model implementations), ``crops`` (crop boxes
and resampling), ``jersey`` (the 133 jersey-number features), ``weights`` (the file format),
``data`` (rendered training data), ``training``, ``fit_detector`` and ``fit_encoder`` (training),
``train`` and ``evaluate`` (entry points).
"""
