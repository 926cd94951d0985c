"""Measuring video models: the physical-law benchmark (`physics`), prompt adherence (`adherence`), camera
accuracy (`camera_accuracy`, on `motion`), extension continuity (`continuity`). Models are reached only
through the `VideoModel` protocol (`model_under_test`); `runner` runs a benchmark and writes its report (`report`).
"""
