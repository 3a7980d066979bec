"""Access policy from settings, the shared-password check and owner ids."""

from __future__ import annotations

import hmac
import threading
import time

import pytest

from backend import auth
from backend.config import OPERATOR_ACTIONS

_FAST = 1000  # PBKDF2 iterations for tests; production hashes use the module default


@pytest.fixture(autouse=True)
def _no_access_env(monkeypatch):
    monkeypatch.delenv("LSM_ACCESS_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("LSM_PROTECTED", raising=False)


def _secrets(tmp_path, text: str):
    path = tmp_path / "secrets.toml"
    path.write_text(text, encoding="utf-8")
    return path


_OIDC_TABLE = """
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "cookie-secret-value-0123456789abcdef"
client_id = "client-id-value"
client_secret = "client-secret-value"
server_metadata_url = "https://accounts.example.com/.well-known/openid-configuration"
"""


# --- passwords --------------------------------------------------------------------------------


def test_password_hash_round_trip_and_salting():
    first = auth.hash_password("correct horse", iterations=_FAST)
    second = auth.hash_password("correct horse", iterations=_FAST)
    assert first != second  # a fresh salt each time
    assert first.startswith("pbkdf2_sha256$1000$")
    assert "correct horse" not in first
    assert auth.check_password("correct horse", first)
    assert auth.check_password("correct horse", second)
    assert not auth.check_password("correct horse ", first)
    assert not auth.check_password("", first)


def test_plain_sha256_hashes_are_accepted():
    stored = "sha256$" + "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"  # sha256("secret")
    assert auth.check_password("secret", stored)
    assert not auth.check_password("Secret", stored)


@pytest.mark.parametrize("stored", ["", "secret", "pbkdf2_sha256$x$salt$abc", "sha256$short", "md5$abc"])
def test_malformed_hashes_never_match(stored):
    assert not auth.is_valid_hash(stored)
    assert not auth.check_password("secret", stored)
    assert not auth.check_password(stored, stored)


def test_password_check_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert auth.check_password("pw", auth.hash_password("pw", iterations=_FAST))
    assert len(calls) == 1


# --- the policy -------------------------------------------------------------------------------


def test_no_settings_means_open_with_every_page_public(tmp_path):
    policy = auth.load_access_policy(tmp_path / "missing.toml")
    assert policy.mode == auth.OPEN
    assert not policy.needs_sign_in("Fine-tuning")
    assert not policy.needs_sign_in("Demos")


def test_password_hash_from_the_environment(tmp_path, monkeypatch):
    stored = auth.hash_password("pw", iterations=_FAST)
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", stored)
    policy = auth.load_access_policy(tmp_path / "missing.toml")
    assert (policy.mode, policy.problem, policy.password_hash) == (auth.PASSWORD, "", stored)
    assert policy.needs_sign_in("Fine-tuning")
    assert policy.needs_sign_in("Market", "pages/market/your_data.py")  # uploads of internal data
    assert not policy.needs_sign_in("Market", "pages/market/adoption.py")
    assert not policy.needs_sign_in("Demos", "pages/demos/sentiment.py")


def test_password_hash_from_the_secrets_file(tmp_path):
    stored = auth.hash_password("pw", iterations=_FAST)
    policy = auth.load_access_policy(_secrets(tmp_path, f'[showcase]\naccess_password_hash = "{stored}"\n'))
    assert policy.mode == auth.PASSWORD
    assert auth.check_password("pw", policy.password_hash)


def test_malformed_password_hash_fails_closed_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", "plain-text-password")
    policy = auth.load_access_policy(tmp_path / "missing.toml")
    assert policy.mode == auth.PASSWORD
    assert "malformed" in policy.problem
    assert "plain-text-password" not in policy.problem
    assert policy.needs_sign_in("Fine-tuning")


def test_oidc_table_wins_over_a_password(tmp_path, monkeypatch):
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", auth.hash_password("pw", iterations=_FAST))
    policy = auth.load_access_policy(_secrets(tmp_path, _OIDC_TABLE))
    assert (policy.mode, policy.providers, policy.problem) == (auth.OIDC, ("",), "")


def test_named_oidc_providers_are_listed(tmp_path):
    text = """
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "cookie"
[auth.google]
client_id = "a"
client_secret = "b"
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"
[auth.microsoft]
client_id = "c"
client_secret = "d"
server_metadata_url = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
"""
    policy = auth.load_access_policy(_secrets(tmp_path, text))
    assert policy.providers == ("google", "microsoft")
    assert policy.problem == ""


def test_incomplete_oidc_table_names_what_is_missing(tmp_path):
    policy = auth.load_access_policy(_secrets(tmp_path, '[auth]\nclient_id = "x"\nclient_secret = "y"\n'))
    assert policy.mode == auth.OIDC
    assert "redirect_uri" in policy.problem and "cookie_secret" in policy.problem
    assert "server_metadata_url" in policy.problem


def test_missing_authlib_is_reported(tmp_path, monkeypatch):
    real = auth.importlib.util.find_spec
    monkeypatch.setattr(auth.importlib.util, "find_spec", lambda name: None if name == "authlib" else real(name))
    policy = auth.load_access_policy(_secrets(tmp_path, _OIDC_TABLE))
    assert "Authlib" in policy.problem


@pytest.mark.parametrize(
    ("env", "expected"),
    [("Fine-tuning,Market", ("Fine-tuning", "Market")), (" Demos ", ("Demos",)), ("none", ()), ("", ())],
)
def test_protected_from_the_environment(tmp_path, monkeypatch, env, expected):
    monkeypatch.setenv("LSM_PROTECTED", env)
    assert auth.load_access_policy(tmp_path / "missing.toml").protected == expected


def test_protected_from_the_secrets_file(tmp_path):
    path = _secrets(tmp_path, '[showcase]\nprotected = ["Fine-tuning", "Market"]\n')
    assert auth.load_access_policy(path).protected == ("Fine-tuning", "Market")


def test_policy_never_shows_its_password_hash(tmp_path, monkeypatch):
    stored = auth.hash_password("pw", iterations=_FAST)
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", stored)
    policy = auth.load_access_policy(tmp_path / "missing.toml")
    digest = stored.rsplit("$", 1)[1]
    assert digest not in repr(policy)
    assert digest not in str(policy.to_dict())


def test_unreadable_secrets_file_is_treated_as_absent(tmp_path):
    assert auth.load_access_policy(_secrets(tmp_path, "this is = = not toml")).mode == auth.OPEN


# --- owners -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"email": "Ana@Example.com", "email_verified": True, "sub": "1"}, "ana@example.com"),
        (
            {"email": "ceo@example.com", "email_verified": False, "sub": "42", "iss": "https://idp"},
            "oidc:https://idp:42",
        ),
        ({"email": "ceo@example.com", "sub": "42"}, "oidc:provider:42"),
        ({"sub": "42", "iss": "https://idp"}, "oidc:https://idp:42"),
        ({}, ""),
    ],
)
def test_owner_is_a_verified_email_or_the_provider_subject(claims, expected):
    assert auth.owner_from_claims(claims) == expected


# --- guessing -------------------------------------------------------------------------------


def _limiter(now: list[float], **limits: int) -> auth.AttemptLimiter:
    return auth.AttemptLimiter(window_seconds=60, clock=lambda: now[0], **limits)


def test_attempt_limiter_blocks_after_too_many_failures_then_recovers():
    now = [1000.0]
    limiter = _limiter(now, max_failures=3)
    attacker = auth.ClientKey("session-a", "203.0.113.7")
    for _ in range(3):
        assert limiter.retry_after(attacker) == 0
        limiter.record_failure(attacker)
    assert limiter.retry_after(attacker) == 60
    now[0] += 59
    assert limiter.retry_after(attacker) == 1
    now[0] += 1
    assert limiter.retry_after(attacker) == 0


def test_a_failing_client_does_not_lock_out_another_client():
    now = [1000.0]
    limiter = _limiter(now)  # the production limits
    attacker = auth.ClientKey("session-a", "203.0.113.7")
    for _ in range(25):
        limiter.record_failure(attacker)
        now[0] += 1
    assert limiter.retry_after(attacker) > 0
    assert limiter.retry_after(auth.ClientKey("session-b", "198.51.100.2")) == 0
    # Same office (shared address), another browser: not yet held back by the address limit.
    assert limiter.retry_after(auth.ClientKey("session-c", "203.0.113.7")) == 0


def test_new_sessions_from_one_address_are_braked_by_the_address_limit():
    now = [1000.0]
    limiter = _limiter(now, max_failures=5, max_failures_per_address=8)
    for attempt in range(8):
        limiter.record_failure(auth.ClientKey(f"fresh-session-{attempt}", "203.0.113.7"))
    assert limiter.retry_after(auth.ClientKey("fresh-session-9", "203.0.113.7")) == 60
    assert limiter.retry_after(auth.ClientKey("fresh-session-9", "198.51.100.2")) == 0


def test_no_number_of_guessing_addresses_holds_back_a_new_one_with_the_right_password():
    now = [1000.0]
    limiter = _limiter(now)  # the production limits
    # 2,000 addresses in 200 networks, each failing at its own limits within the minute.
    for network in range(200):
        for host in range(10):
            client = auth.ClientKey(f"s-{network}-{host}", f"10.{network // 250}.{network % 250}.{host}")
            for _ in range(5):
                limiter.attempt(client, lambda: False)
    assert limiter.retry_after(auth.ClientKey("s-0-0", "10.0.0.0")) == 60
    user = auth.ClientKey("user", "198.51.100.20")
    assert limiter.attempt(user, lambda: True) == auth.Attempt(signed_in=True)


def test_addresses_rotated_within_one_network_meet_the_network_brake():
    now = [1000.0]
    limiter = _limiter(now, max_failures_per_network=50)
    for host in range(50):
        limiter.record_failure(auth.ClientKey(f"s{host}", f"203.0.113.{host}"))
    assert limiter.retry_after(auth.ClientKey("new", "203.0.113.200")) == 60
    # IPv6: a host owns its /64; rotating within it does not escape the brake.
    for host in range(50):
        limiter.record_failure(auth.ClientKey(f"v6-{host}", f"2001:db8:1:2::{host:x}"))
    assert limiter.retry_after(auth.ClientKey("new", "2001:db8:1:2:ffff::1")) == 60
    assert limiter.retry_after(auth.ClientKey("new", "2001:db8:1:3::1")) == 0
    assert limiter.retry_after(auth.ClientKey("new", "198.51.100.1")) == 0


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("not-an-address", ""),
    ],
)
def test_network_of_an_address(address, network):
    assert auth.network_of(address) == network


def test_parallel_guesses_cannot_pass_a_limit_together():
    limiter = auth.AttemptLimiter(max_failures=5, window_seconds=600)
    client = auth.ClientKey("one-session", "203.0.113.9")
    start = threading.Barrier(40)
    checked: list[bool] = []

    def guess() -> None:
        start.wait()
        limiter.attempt(client, lambda: checked.append(True) or time.sleep(0.01) or False)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 5, "exactly the limit of guesses were checked"


def test_a_right_password_is_not_counted_as_a_failure():
    now = [1000.0]
    limiter = _limiter(now, max_failures=2)
    client = auth.ClientKey("s", "203.0.113.9")
    for _ in range(5):
        assert limiter.attempt(client, lambda: True).signed_in
    assert limiter.retry_after(client) == 0


@pytest.mark.parametrize(
    ("password", "weak"),
    [
        ("password", True),
        ("Password1", True),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", True),
        ("correct-Horse-7", False),
        ("correct horse battery staple", False),
    ],
)
def test_weak_shared_passwords_are_refused_with_the_rule(password, weak):
    problem = auth.password_problem(password)
    assert bool(problem) is weak
    if weak:
        assert problem == f"The password is too weak. It needs {auth.PASSWORD_RULE}."


def test_the_hash_command_refuses_a_weak_password(monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getpass", lambda _prompt="": "letmein")
    with pytest.raises(SystemExit) as refused:
        auth.main()
    assert str(refused.value).startswith("The password is too weak. It needs at least 12 characters")


def test_limiter_forgets_old_clients():
    now = [1000.0]
    limiter = _limiter(now)
    for attempt in range(200):
        limiter.record_failure(auth.ClientKey(f"session-{attempt}", f"198.51.100.{attempt % 250}"))
    now[0] += 61
    limiter.retry_after(auth.ClientKey("x"))
    assert limiter._failures == {}


def test_default_protected_entries_name_real_sections_or_pages():
    # A renamed page must not silently lose its protection.
    from pages.components.navigation import PAGES, SECTIONS

    known = set(SECTIONS) | {page.path for page in PAGES}
    assert set(auth.DEFAULT_PROTECTED) <= known | {OPERATOR_ACTIONS}


def test_page_paths_can_be_protected_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LSM_PROTECTED", "pages/demos/text_generation.py")
    monkeypatch.setenv("LSM_ACCESS_PASSWORD_HASH", auth.hash_password("pw", iterations=_FAST))
    policy = auth.load_access_policy(tmp_path / "missing.toml")
    assert policy.needs_sign_in("Demos", "pages/demos/text_generation.py")
    assert not policy.needs_sign_in("Demos", "pages/demos/sentiment.py")
    assert not policy.needs_sign_in("Fine-tuning", "pages/finetune/anything.py")
