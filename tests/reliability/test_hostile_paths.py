"""User-facing messages never show the server's absolute paths (models, runs or state folder)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest
import torch

from backend.errors import ShowcaseError
from backend.jobs import queue
from backend.models import loader
from backend.models.resolve import catalogue
from backend.server_paths import redact_paths, shown_path
from tests.support.paths import PROJECT_ROOT


@pytest.fixture
def local(tmp_path, settings):
    folders = dataclasses.replace(
        settings, state_dir=tmp_path / "srv" / "state", models_dir=tmp_path / "srv" / "models"
    )
    folders.models_dir.mkdir(parents=True)
    folders.runs_dir.mkdir(parents=True)
    return folders


def _prefixes(local) -> list[str]:
    roots = (local.models_dir, local.state_dir, local.runs_dir)
    return sorted({str(p) for root in roots for p in (root, root.resolve())} | {str(local.state_dir.parent)})


def _assert_no_server_path(text: str, local) -> None:
    for prefix in _prefixes(local):
        assert prefix not in text, (prefix, text)


def test_shown_paths_are_relative_to_the_app_folders(local):
    assert shown_path(local.runs_dir / "job-1" / "model", local) == "runs/job-1/model"
    assert shown_path(local.models_dir / "bert-tiny", local) == "models/bert-tiny"
    assert shown_path(local.state_dir / "jobs.sqlite3", local) == "state/jobs.sqlite3"
    assert shown_path("/somewhere/else/model", local) == "model"
    assert shown_path("org/name", local) == "org/name"
    text = f"OSError: can't open {local.runs_dir}/job-1/model/config.json or {local.models_dir}/x"
    assert redact_paths(text, local) == "OSError: can't open runs/job-1/model/config.json or models/x"


def _load_error(ref: str, local) -> str:
    with pytest.raises(ShowcaseError) as caught:
        loader.load_model(catalogue.SENTIMENT, ref, local)
    return caught.value.user_text()


def test_loader_messages_name_folders_relative_to_the_models_folder(local, tiny_model_paths, monkeypatch):
    messages = [
        _load_error(str(local.models_dir / "missing"), local),
        _load_error(str(local.runs_dir / "job-1" / "model"), local),
        _load_error(str(local.state_dir / "jobs.sqlite3"), local),
        _load_error("/etc", local),
        _load_error("someone/not-mirrored", local),  # offline: the mirror hint
    ]
    corrupt = local.models_dir / "corrupt"
    shutil.copytree(tiny_model_paths["sentiment"], corrupt)
    (corrupt / "config.json").write_text("{not json", encoding="utf-8")
    messages.append(_load_error(str(corrupt), local))

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError(f"CUDA out of memory while reading {corrupt}")

    healthy = local.models_dir / "healthy"
    shutil.copytree(tiny_model_paths["sentiment"], healthy)
    monkeypatch.setattr(loader, "_load_components", out_of_memory)
    messages.append(_load_error(str(healthy), local))
    assert "models/missing" in messages[0] and "models/healthy" in messages[-1]
    for text in messages:
        _assert_no_server_path(text, local)


def test_queue_unreachable_names_neither_the_file_nor_the_redis_url(local):
    for backend in ("sqlite", "redis"):
        configured = dataclasses.replace(local, queue_backend=backend, redis_url="redis://:hunter2@10.0.0.5:6379/0")
        text = queue._unreachable(configured, OSError("connection refused")).user_text()
        _assert_no_server_path(text, local)
        assert "hunter2" not in text and "10.0.0.5" not in text


def test_loaded_model_summary_and_footers_show_relative_folders(local, tiny_model_paths):
    folder = local.models_dir / "tiny"
    shutil.copytree(tiny_model_paths["sentiment"], folder)
    loaded = loader.load_model(catalogue.SENTIMENT, str(folder), local)
    from backend.inference.footer import make_footer

    # The process settings decide in the footer; a folder outside them shows only its name.
    assert make_footer(loaded, 1.0, 1, "text").model in ("models/tiny", "tiny")


# Any f-string in backend/ that puts a settings folder into text is a leak waiting for a caller;
# the command-line tools (run by the host, not shown on a page) may.
_FOLDER_IN_TEXT = re.compile(r"\{settings\.(models_dir|state_dir|runs_dir|jobs_db)[^}]*\}")
_HOST_TOOLS = {"backend/models/__main__.py"}


def test_no_backend_message_interpolates_a_server_folder():
    offenders = []
    for path in sorted((PROJECT_ROOT / "backend").rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if relative in _HOST_TOOLS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _FOLDER_IN_TEXT.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_failed_job_log_has_no_server_paths(local):
    # The worker's generic failure branch writes the error to the job log shown on the page.
    from backend.jobs import worker
    from backend.jobs.store import Job, JobStore

    store = JobStore(settings=local)
    run_dir = local.runs_dir / "job-fail"
    run_dir.mkdir(parents=True)
    store.create(Job("job-fail", "broken", "text", str(run_dir)))

    def broken(*args, **kwargs):
        raise ValueError(f"cannot parse {run_dir / 'data' / 'train.jsonl'}")

    handler = worker.JobHandler(run=broken, doing="Training", output="model", memory_advice="Use less")
    worker.execute_job("job-fail", {"broken": handler}, local)
    logged = json.dumps(store.logs("job-fail")) + json.dumps(store.require("job-fail").to_dict().get("error"))
    assert "runs/job-fail/data/train.jsonl" in logged
    _assert_no_server_path(logged, local)
