"""Background jobs of any kind: the store (SQLite, or PostgreSQL for a cluster; ``recovery``
rebuilds a damaged SQLite file), the queue (Huey), the worker loop (``worker``), starting one from
the app (``supervisor``), who is alive (``liveness``), progress, and submitting and retrying
(``submit``).

The package knows no task. Each kind of job is a ``kinds.JobKind`` (its handler, its submission
checks, its retry input) declared beside its own code: classifier training
(``backend.training.classifier.studio``), chat tuning (``backend.training.chat.studio``) and batch
inference (``backend.inference.batch``). ``backend/worker.py`` lists them, the one place that
knows them all.
"""
