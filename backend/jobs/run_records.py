"""What a run folder keeps about its job, read back when the job database is rebuilt.

Each run folder holds its job's row as ``job.json`` (``store.JobStore`` rewrites it on every
change) and the parameters it was submitted with as ``params.json`` (``submit``), so a damaged
database can be rebuilt from the folders alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

JOB_RECORD = "job.json"
PARAMS_FILE = "params.json"
# Run folders from before ``job.json`` records hold only ``params.json``; training was the only
# kind of job then, so they are read back under its kind name.
_KIND_BEFORE_RECORDS = "train"
_log = logging.getLogger(__name__)


def _from_record(record: Path, fields: Collection[str]) -> dict[str, Any]:
    data = json.loads(record.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    data = {key: value for key, value in data.items() if key in fields}
    data["id"] = record.parent.name
    data["run_dir"] = str(record.parent)
    return data


def _from_params(folder: Path) -> dict[str, Any]:
    # No status: the store marks it failed like any job whose end was not recorded.
    params = json.loads((folder / PARAMS_FILE).read_text(encoding="utf-8"))
    if not isinstance(params, dict):
        raise ValueError("not a JSON object")
    return {
        "id": folder.name,
        "kind": _KIND_BEFORE_RECORDS,
        "owner": str(params.get("owner", "")),
        "title": str(params.get("title", "")),
        "task": str(params.get("task", "")),
        "method": str(params.get("method", "")),
        "base_model": str(params.get("base_model", "")),
        "status": "",
        "created": folder.stat().st_mtime,
        "run_dir": str(folder),
        "params": params,
    }


def read_run_folders(runs_dir: Path, fields: Collection[str]) -> Iterator[dict[str, Any]]:
    """Each run folder's job as the fields of a ``store.Job`` (keys outside ``fields`` dropped),
    from its ``job.json``, or from the ``params.json`` of a folder from before those records.

    A folder with neither, or with one that cannot be read, is skipped (and logged).
    """
    if not runs_dir.is_dir():
        return
    for folder in sorted(runs_dir.iterdir()):
        record = folder / JOB_RECORD
        try:
            if record.is_file():
                yield _from_record(record, fields)
            elif (folder / PARAMS_FILE).is_file():
                yield _from_params(folder)
        except (OSError, ValueError) as bad:
            _log.warning("Could not recover the job in %s: %s", folder.name, bad)
