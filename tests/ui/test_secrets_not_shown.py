"""Secrets (password hash, OIDC client secret, cookie secret, Redis password, a model server's API key)
never reach a page or a log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from backend import auth, config
from pages.components.navigation import PAGES
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
PASSWORD = "pw-secret-Zq81"
SALT = "saltsecretQ7"
REDIS_PASSWORD = "redis-secret-hunter2"
CLIENT_SECRET = "oidc-client-secret-Xv93"
COOKIE_SECRET = "cookie-secret-Mk27-0123456789abcdef"
ENDPOINT_KEY = "sk-endpoint-secret-Pq55"


def _walk(node) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _walk(child)


def _all_text(app: AppTest) -> str:
    return "\n".join(str(getattr(node, "proto", "")) for node in _walk(app._tree))


@pytest.fixture
def secret_settings(monkeypatch, tmp_path):
    stored = auth.hash_password(PASSWORD, salt=SALT, iterations=1000)
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", stored)
    monkeypatch.setenv("LSM_REDIS_URL", f"redis://:{REDIS_PASSWORD}@localhost:6379/0")
    monkeypatch.delenv("LSM_PROTECTED", raising=False)
    # Every picker offers these servers, so every demo page renders them.
    server = {"base_url": "http://127.0.0.1:9/v1", "model": "served-model", "api_key": ENDPOINT_KEY}
    endpoints = {"gpu-chat": server, "vectors": {**server, "task": "embeddings"}}
    monkeypatch.setenv("LSM_ENDPOINTS", json.dumps(endpoints))
    config.get_settings.cache_clear()
    yield [PASSWORD, SALT, stored.rsplit("$", 1)[1], REDIS_PASSWORD, ENDPOINT_KEY]
    config.get_settings.cache_clear()


@pytest.fixture
def oidc_secrets(monkeypatch, tmp_path):
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        f"""
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "{COOKIE_SECRET}"
client_id = "showcase"
client_secret = "{CLIENT_SECRET}"
""",
        encoding="utf-8",
    )
    real_loader = auth.load_access_policy
    monkeypatch.setattr(auth, "load_access_policy", lambda secrets_path=None: real_loader(secrets_file))
    return [CLIENT_SECRET, COOKIE_SECRET]


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_no_page_shows_a_secret_in_password_mode(secret_settings, caplog, signed_in):
    caplog.set_level(logging.DEBUG)
    for page in PAGES:
        app = AppTest.from_file(APP, default_timeout=60)
        app.session_state["auth.password_ok"] = signed_in
        app.run()
        app.switch_page(page.path)
        app.run()
        shown = _all_text(app)
        if page.path == "pages/overview/home.py":
            assert "Large Model Showcase" in shown  # the text walk sees what a page shows
        for secret in secret_settings:
            assert secret not in shown, f"{page.path} shows a secret"
    for secret in secret_settings:
        assert secret not in caplog.text
    assert REDIS_PASSWORD not in repr(config.get_settings())
    assert ENDPOINT_KEY not in repr(config.get_settings())


def test_no_page_shows_oidc_secrets(oidc_secrets, caplog):
    caplog.set_level(logging.DEBUG)
    policy = auth.load_access_policy()
    assert policy.mode == auth.OIDC and "server_metadata_url" in policy.problem  # the file was read
    for page in PAGES:
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        app.switch_page(page.path)
        app.run()
        shown = _all_text(app)
        for secret in oidc_secrets:
            assert secret not in shown, f"{page.path} shows a secret"
    for secret in oidc_secrets:
        assert secret not in caplog.text
        assert secret not in repr(policy) and secret not in str(policy.to_dict())
