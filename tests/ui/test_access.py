"""Protected sections show a sign-in screen; public ones stay open; owners follow the identity."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from backend import auth
from pages.components import auth as auth_component
from tests.support.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
PASSWORD = "open sesame 2026"
_SHARED_LIMITER = auth_component._password_limiter


@pytest.fixture(autouse=True)
def _clean_access(monkeypatch):
    monkeypatch.delenv("LSM_ACCESS_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("LSM_PROTECTED", raising=False)
    _SHARED_LIMITER.clear()
    yield
    _SHARED_LIMITER.clear()


@pytest.fixture
def password_protects_overview(monkeypatch) -> str:
    stored = auth.hash_password(PASSWORD, iterations=1000)
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", stored)
    # Overview holds the two pages that always exist, so it stands in for Fine-tuning here.
    monkeypatch.setenv("LSM_PROTECTED", "Overview")
    return stored


def _titles(app: AppTest) -> list[str]:
    return [t.value for t in app.title]


def _checked(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _run(app: AppTest) -> AppTest:
    return _checked(app.run())


def test_open_app_shows_pages_without_sign_in():
    app = _run(AppTest.from_file(APP, default_timeout=60))
    assert "Large Model Showcase" in _titles(app)
    assert "Sign in" not in _titles(app)


def test_protected_section_shows_sign_in_until_the_password_is_right(password_protects_overview):
    app = _run(AppTest.from_file(APP, default_timeout=60))
    assert _titles(app) == ["Sign in"]
    assert "Large Model Showcase" not in _titles(app)

    app.text_input(key="auth.password").input("wrong")
    _checked(app.button[0].click().run())
    assert "not right" in " ".join(e.value for e in app.error)
    assert _titles(app) == ["Sign in"]

    app.text_input(key="auth.password").input(PASSWORD)
    _checked(app.button[0].click().run())
    assert "Large Model Showcase" in _titles(app)
    assert "shared password" in " ".join(str(c.value) for c in app.sidebar.caption)

    _checked(app.button(key="auth.logout").click().run())
    assert _titles(app) == ["Sign in"]


def test_protected_page_stays_closed_when_switched_to_directly(password_protects_overview):
    app = _run(AppTest.from_file(APP, default_timeout=60))
    app.switch_page("pages/overview/models.py")
    _run(app)
    assert _titles(app) == ["Sign in"]


def test_public_sections_stay_open_when_a_password_is_set(monkeypatch):
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", auth.hash_password(PASSWORD, iterations=1000))
    app = _run(AppTest.from_file(APP, default_timeout=60))  # default: only Fine-tuning is protected
    assert "Large Model Showcase" in _titles(app)


def test_password_guessing_is_braked(password_protects_overview, monkeypatch):
    limiter = auth.AttemptLimiter(max_failures=2, window_seconds=600)
    monkeypatch.setattr(auth_component, "_password_limiter", lambda: limiter)
    app = _run(AppTest.from_file(APP, default_timeout=60))
    for _ in range(2):
        app.text_input(key="auth.password").input("guess")
        _checked(app.button[0].click().run())
    app.text_input(key="auth.password").input(PASSWORD)
    _checked(app.button[0].click().run())
    assert "Too many wrong passwords" in " ".join(e.value for e in app.error)
    assert _titles(app) == ["Sign in"]


def test_a_second_client_with_the_right_password_gets_in_while_an_attacker_fails(password_protects_overview):
    attacker = _run(AppTest.from_file(APP, default_timeout=60))
    for _ in range(8):  # past the per-session limit of the shared, process-wide limiter
        attacker.text_input(key="auth.password").input("guess")
        _checked(attacker.button[0].click().run())
    assert "Too many wrong passwords" in " ".join(e.value for e in attacker.error)

    user = _run(AppTest.from_file(APP, default_timeout=60))
    user.text_input(key="auth.password").input(PASSWORD)
    _checked(user.button[0].click().run())
    assert "Large Model Showcase" in _titles(user)

    # The attacker stays braked even with the right password, until the window passes.
    attacker.text_input(key="auth.password").input(PASSWORD)
    _checked(attacker.button[0].click().run())
    assert _titles(attacker) == ["Sign in"]


def test_misconfigured_password_keeps_protected_pages_closed(monkeypatch):
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", "not-a-hash")
    monkeypatch.setenv("LSM_PROTECTED", "Overview")
    app = _run(AppTest.from_file(APP, default_timeout=60))
    assert _titles(app) == ["Sign in"]
    assert "not set up correctly" in " ".join(e.value for e in app.error)
    assert not app.text_input  # no form to type into


def _oidc_policy(*_args, **_kwargs) -> auth.AccessPolicy:
    return auth.AccessPolicy(mode=auth.OIDC, protected=("Overview",), providers=("", "google"))


def test_oidc_sign_in_offers_each_provider_and_opens_for_a_signed_in_user(monkeypatch):
    monkeypatch.setattr(auth, "load_access_policy", _oidc_policy)
    app = AppTest.from_file(APP, default_timeout=60)
    app.user = {"is_logged_in": False}
    _run(app)
    assert _titles(app) == ["Sign in"]
    assert [b.label for b in app.button] == ["Sign in", "Sign in with Google"]

    app.user = {"is_logged_in": True, "email": "ana@example.com", "email_verified": True, "name": "Ana", "sub": "7"}
    _run(app)
    assert "Large Model Showcase" in _titles(app)
    assert "Ana" in " ".join(str(c.value) for c in app.sidebar.caption)


def _show_owner() -> None:
    import streamlit as st

    from pages.components.auth import current_owner

    st.write(f"owner=[{current_owner()}]")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"email": "test@example.com"}, "owner=[]"),
        ({"is_logged_in": False}, "owner=[]"),
        (
            {"is_logged_in": True, "email": "Ana@Example.com", "email_verified": True, "sub": "7"},
            "owner=[ana@example.com]",
        ),
        (
            {"is_logged_in": True, "email": "boss@example.com", "sub": "7", "iss": "https://idp"},
            "owner=[oidc:https://idp:7]",
        ),
    ],
)
def test_current_owner_follows_the_signed_in_identity(user, expected):
    app = AppTest.from_function(_show_owner)
    app.user = user
    _run(app)
    assert app.markdown[0].value == expected


def test_a_provider_supplied_name_is_shown_as_plain_text(monkeypatch):
    monkeypatch.setattr(auth, "load_access_policy", _oidc_policy)
    app = AppTest.from_file(APP, default_timeout=60)
    app.user = {"is_logged_in": True, "email": "e@example.com", "email_verified": True, "sub": "9"}
    app.user["name"] = "[Ana](http://evil.example) ![x](http://evil.example/a.png)"
    _run(app)
    captions = " ".join(str(c.value) for c in app.sidebar.caption)
    assert "\\[Ana\\]" in captions
    unescaped = re.sub(r"\\.", "", captions)
    assert "[" not in unescaped and "](" not in unescaped


def test_operator_actions_on_the_public_models_page_need_sign_in(monkeypatch):
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", auth.hash_password(PASSWORD, iterations=1000))
    app = _run(AppTest.from_file(APP, default_timeout=60))
    app.switch_page("pages/overview/models.py")
    app = _run(app)
    assert _titles(app) == ["Models"], "the page itself stays public"
    keys = {button.key for button in app.button}
    assert "models.prepare_all" not in keys and "models.unload_all" not in keys
    assert any("need sign-in" in caption.value for caption in app.caption)
    # Signed in (on a protected page), the actions are there.
    app.switch_page("pages/finetune/new_job.py")
    app = _run(app)
    app.text_input(key="auth.password").input(PASSWORD)
    _checked(app.button[0].click().run())
    app.switch_page("pages/overview/models.py")
    app = _run(app)
    assert "models.prepare_all" in {button.key for button in app.button}
