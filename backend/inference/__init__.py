"""Inference for the live demos: one module per task, each pure (no streamlit) and typed.

Every task follows validate -> preprocess -> model -> postprocess and returns small dataclasses
with ``to_dict()``. Batch functions (``sentiment.classify``, ``translation.translate``,
``image_classification.classify_images``, ``text_generation.generate``) take a ``LoadedModel``
and a list of inputs, so benchmarks and the pages call the same code.
"""
