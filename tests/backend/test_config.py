"""Settings for a cluster: a job store server, a shared runs folder, the heartbeat and autostart."""

from __future__ import annotations

from backend import config


def test_cluster_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LSM_JOB_STORE", "postgresql://jobs:secret@db.internal/showcase")
    monkeypatch.setenv("LSM_RUNS_FOLDER", str(tmp_path / "nfs" / "runs"))
    monkeypatch.setenv("LSM_JOB_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("LSM_WORKER_AUTOSTART", "0")
    settings = config.load_settings(tmp_path / "no-secrets.toml")
    assert settings.job_store == "postgresql://jobs:secret@db.internal/showcase" and "secret" not in repr(settings)
    assert settings.runs_dir == tmp_path / "nfs" / "runs"
    assert (settings.job_heartbeat_seconds, settings.stale_heartbeat_seconds) == (2.0, 24.0)
    assert settings.worker_autostart is False


def test_one_machine_defaults_keep_everything_in_the_state_folder(monkeypatch, tmp_path):
    for name in ("LSM_JOB_STORE", "LSM_RUNS_FOLDER", "LSM_JOB_HEARTBEAT_SECONDS", "LSM_WORKER_AUTOSTART"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    settings = config.load_settings(tmp_path / "no-secrets.toml")
    assert settings.job_store == "" and settings.runs_dir == tmp_path / "state" / "runs"
    assert settings.stale_heartbeat_seconds == 60.0 and settings.worker_autostart is True
