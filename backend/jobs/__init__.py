"""Background jobs of any kind: the store (SQLite), the queue (Huey), the worker and progress.

The package knows no task. A job's ``kind`` picks its handler from the table that
``python -m backend.worker`` wires: training (``backend.training.runner``) and batch inference
(``backend.inference.batch``) each register one.
"""
