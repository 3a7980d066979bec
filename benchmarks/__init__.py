"""Reproducible speed and memory measurements of the demos, fine-tuning and the app.

Every figure for our path is taken beside the plain baseline a user would write (a
``transformers.pipeline`` called item by item, a ``Trainer`` with default arguments), in the same
run, and reported as a ratio. Run ``python -m benchmarks --help``.
"""
