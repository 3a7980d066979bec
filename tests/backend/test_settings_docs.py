"""One settings home: every ``LSM_*`` setting is a documented field of ``Settings``, read only in
backend/config.py, and the settings table and the secrets example are written from those fields."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

from backend import config, settings_docs

ROOT = config.PROJECT_ROOT
_SETTING_NAME = re.compile(r"\bLSM_[A-Z0-9_]*[A-Z0-9]\b")
# Variables the test suite reads for its own runs; they configure tests, not the app.
_TEST_ONLY = {"LSM_TEST_STANDINS_CACHE"}


def _tracked_files(*patterns: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def _app_names() -> set[str]:
    return {config.environment_name(setting) for setting in config.setting_fields()}


def test_the_settings_table_and_the_secrets_example_match_the_settings():
    for path, text in settings_docs.expected_files().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python -m backend.settings_docs"


def test_the_check_command_fails_on_a_stale_table(tmp_path, monkeypatch):
    stale = tmp_path / "deploying.md"
    stale.write_text(
        f"# Deploying\n{settings_docs.TABLE_START}\n| old | table |\n{settings_docs.TABLE_END}\nAfter.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(settings_docs, "DEPLOYING_PAGE", stale)
    monkeypatch.setattr(settings_docs, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(settings_docs, "SECRETS_EXAMPLE", tmp_path / "secrets.toml.example")
    (tmp_path / "secrets.toml.example").write_text(settings_docs.secrets_example(), encoding="utf-8")
    assert settings_docs.main(["--check"]) == 1
    assert "| old | table |" in stale.read_text(encoding="utf-8")
    assert settings_docs.main([]) == 0
    rewritten = stale.read_text(encoding="utf-8")
    assert "`LSM_CLIENT_ADDRESS_HEADER`" in rewritten and rewritten.endswith("\nAfter.\n")
    assert settings_docs.main(["--check"]) == 0


def test_every_setting_has_a_description_and_appears_in_both_documents():
    table = settings_docs.settings_table()
    example = settings_docs.secrets_example()
    for setting in config.setting_fields():
        assert len(setting.metadata["description"]) > 20, setting.name
        assert f"`{config.environment_name(setting)}`" in table
        assert f"({config.environment_name(setting)}" in example or setting.name == "endpoints"


def test_the_secrets_example_is_toml_that_the_settings_read_as_their_defaults(tmp_path, monkeypatch):
    for setting in config.setting_fields():
        monkeypatch.delenv(config.environment_name(setting), raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    example = tmp_path / "secrets.toml"
    example.write_text(settings_docs.secrets_example(), encoding="utf-8")
    assert set(tomllib.loads(example.read_text(encoding="utf-8"))) == {"showcase"}
    assert config.load_settings(example) == config.load_settings(tmp_path / "absent.toml")


def _environment_accesses(tree: ast.AST) -> list[tuple[int, str]]:
    """``"LSM_DEVICE"`` used as a key (a subscript, a dict key, the first argument of a call such as
    ``os.environ.get`` or ``os.getenv``) and ``LSM_DEVICE=`` keywords: the ways code reads or sets one.
    Messages that merely name a setting for the operator are not accesses."""
    found = []
    for node in ast.walk(tree):
        keys: list[ast.expr] = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Call):
            keys = node.args[:1]
            found += [(node.lineno, f"{kw.arg}=") for kw in node.keywords if kw.arg and kw.arg.startswith("LSM_")]
        found += [
            (key.lineno, key.value)
            for key in keys
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and _SETTING_NAME.fullmatch(key.value)
        ]
    return found


def test_no_module_but_config_reads_an_lsm_variable():
    offenders = []
    for name in _tracked_files("*.py"):
        if name == "backend/config.py" or name.startswith("tests/"):
            continue
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        offenders += [f"{name}:{line} {what}" for line, what in _environment_accesses(tree)]
    assert offenders == []


def test_the_access_check_sees_every_way_of_reading_an_environment_variable():
    code = (
        'os.environ.get("LSM_DEVICE")\nos.getenv("LSM_QUEUE", "")\nos.environ["LSM_OFFLINE"]\n'
        'env = {"LSM_STATE_DIR": "1"}\nenv.update(LSM_MODELS_DIR="1")\nlog.warning("LSM_PROTECTED is odd")\nhint = "LSM_JOB_STORE"\n'
    )
    assert [what for _line, what in sorted(_environment_accesses(ast.parse(code)))] == [
        "LSM_DEVICE",
        "LSM_QUEUE",
        "LSM_OFFLINE",
        "LSM_STATE_DIR",
        "LSM_MODELS_DIR=",
    ]


def test_every_lsm_name_anywhere_is_a_setting():
    known = _app_names()
    unknown = []
    for name in _tracked_files("*.py", "*.md", "*.toml", "*.example", "*.sh", "*.txt"):
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        allowed = known | _TEST_ONLY if name.startswith(("tests/", "docs/developing.md")) else known
        unknown += [f"{name}: {found}" for found in sorted(set(_SETTING_NAME.findall(text)) - allowed)]
    assert unknown == []


def test_settings_come_from_the_environment_then_the_secrets_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LSM_CLIENT_ADDRESS_HEADER", " X-Real-IP ")
    monkeypatch.setenv("LSM_PROTECTED", "")
    settings = config.load_settings(tmp_path / "absent.toml")
    assert settings.client_address_header == "X-Real-IP" and settings.protected == ()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[showcase]\nprotected = ["Demos"]\nqueue = "redis"\noffline = true\n', encoding="utf-8")
    monkeypatch.delenv("LSM_PROTECTED")
    monkeypatch.delenv("LSM_QUEUE", raising=False)
    monkeypatch.delenv("LSM_OFFLINE", raising=False)
    from_file = config.load_settings(secrets)
    assert (from_file.protected, from_file.queue_backend, from_file.offline) == (("Demos",), "redis", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert config.load_settings(tmp_path / "absent.toml").offline is True
    monkeypatch.setenv("LSM_OFFLINE", "0")
    assert config.load_settings(tmp_path / "absent.toml").offline is False


def test_the_command_runs_as_the_docs_say():
    done = subprocess.run(
        [sys.executable, "-m", "backend.settings_docs", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
