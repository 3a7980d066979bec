"""Who may open what: the access policy read from settings, and the shared-password check.

Three modes, picked from the secrets file and the environment, strongest first:

- ``oidc``: an ``[auth]`` table in ``.streamlit/secrets.toml`` configures Streamlit's built-in
  OpenID Connect sign-in (``st.login``); each user gets their own workspace.
- ``password``: a shared password's hash is set (``LSM_ACCESS_PASSWORD_HASH`` or
  ``access_password_hash`` in ``[showcase]``); everyone who knows it shares one workspace.
- ``open``: neither is set; everyone shares one workspace and every page is public.

What is protected (``LSM_PROTECTED``, or ``protected`` in ``[showcase]``: navigation sections or
page paths) needs sign-in in the first two modes; every other page stays public. By default that
is the Fine-tuning section and the page that takes uploads of internal market data. Secrets are never part of a repr or ``to_dict``.
Create a password hash with ``python -m backend.auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import DEFAULT_PROTECTED, read_secrets_file, read_setting, showcase_table

OIDC = "oidc"
PASSWORD = "password"
OPEN = "open"
# OWASP's 2023 advice for PBKDF2-HMAC-SHA256; a check takes a few hundred ms, which also slows guessing.
_PBKDF2_ITERATIONS = 600_000
_PBKDF2_PREFIX = "pbkdf2_sha256"
_SHA256_PREFIX = "sha256"
# Streamlit requires both for any provider; without them st.login fails at the first click.
_OIDC_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class AccessPolicy:
    """Which sections need sign-in, and how users sign in.

    Attributes:
        mode: ``oidc``, ``password`` or ``open``.
        protected: navigation sections and page paths that need sign-in (ignored when open).
        providers: OIDC provider names for ``st.login`` (``""`` is the default ``[auth]`` one).
        problem: a configuration error to show instead of a sign-in form; protected pages stay
            closed while it is set (fail closed).
        password_hash: the stored hash of the shared password (never shown or serialised).
    """

    mode: str
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    providers: tuple[str, ...] = ()
    problem: str = ""
    password_hash: str = field(default="", repr=False)

    def needs_sign_in(self, section: str, page_path: str = "") -> bool:
        """Whether opening the page ``page_path`` of ``section`` requires a signed-in user."""
        return self.mode != OPEN and (section in self.protected or page_path in self.protected)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form without the password hash."""
        return {
            "mode": self.mode,
            "protected": list(self.protected),
            "providers": list(self.providers),
            "problem": self.problem,
        }


def hash_password(password: str, salt: str | None = None, iterations: int = _PBKDF2_ITERATIONS) -> str:
    """A salted PBKDF2-SHA256 hash to store in the settings: ``pbkdf2_sha256$iterations$salt$hex``."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"{_PBKDF2_PREFIX}${iterations}${salt}${digest.hex()}"


def _parse_hash(stored: str) -> tuple[str, int, str, str] | None:
    parts = stored.strip().split("$")
    if len(parts) == 4 and parts[0] == _PBKDF2_PREFIX and parts[1].isdigit() and parts[2].isascii():
        return parts[0], int(parts[1]), parts[2], parts[3].lower()
    if len(parts) == 2 and parts[0] == _SHA256_PREFIX and len(parts[1]) == 64:
        return parts[0], 0, "", parts[1].lower()
    return None


def is_valid_hash(stored: str) -> bool:
    """Whether ``stored`` is a hash this module can check against."""
    return _parse_hash(stored) is not None


def check_password(candidate: str, stored: str) -> bool:
    """Compare a typed password with the stored hash in constant time; malformed hashes never match."""
    parsed = _parse_hash(stored)
    if parsed is None or not isinstance(candidate, str):
        return False
    scheme, iterations, salt, expected = parsed
    if scheme == _PBKDF2_PREFIX:
        actual = hashlib.pbkdf2_hmac("sha256", candidate.encode("utf-8"), salt.encode("ascii"), iterations).hex()
    else:
        actual = hashlib.sha256(candidate.encode("utf-8")).hexdigest()
    return hmac.compare_digest(actual.encode("ascii"), expected.encode("ascii"))


def owner_from_claims(claims: Mapping[str, object]) -> str:
    """The workspace owner id of a signed-in OIDC user.

    A verified e-mail address is readable and stable across providers; without verification an
    address can be chosen by the user, so the provider's subject id (with its issuer) is used.
    """
    email = str(claims.get("email") or "").strip().lower()
    if email and claims.get("email_verified") is True:
        return email
    subject = str(claims.get("sub") or "").strip()
    if subject:
        return f"oidc:{claims.get('iss') or 'provider'}:{subject}"
    return email


@dataclass(frozen=True)
class ClientKey:
    """Who is guessing: the browser session and, when the server knows it, the client's address.

    Attributes:
        session: a random id kept in the session's state (new tab or refresh: new session).
        address: the client's IP address; ``None`` on localhost or behind a same-host proxy.
    """

    session: str = ""
    address: str | None = None


def network_of(address: str) -> str:
    """The network an address belongs to for the guessing brake: its /24 (IPv4) or /64 (IPv6).

    One host gets a whole IPv6 /64 and can change address within it at will, and a small IPv4
    provider block is usually one operator; "" when ``address`` is not an IP address.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True)
class Attempt:
    """What became of one password attempt: ``signed_in``, or held back for ``wait`` seconds."""

    signed_in: bool
    wait: float = 0.0


class AttemptLimiter:
    """Brakes on password guessing that no number of guessers can turn into a lock-out.

    Wrong passwords are counted per session, per client address and per network (/24 or /64),
    each over a sliding ``window_seconds``. A client is held back only by the counters its own
    attempts feed: there is no counter for everyone, so guessers elsewhere, however many
    addresses they use, never stop a user who types the right password (docs/security.md states
    the threat model). The address limit is above the session limit because people behind one
    office NAT share an address, and the network limit above that; sessions are free to create,
    which is why the address and network counters exist at all.

    :meth:`attempt` checks the brakes and counts the attempt in one step under the lock (the
    attempt is counted as wrong while the password is checked, and uncounted if it was right),
    so parallel guesses cannot pass a limit together.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_failures_per_address: int = 30,
        max_failures_per_network: int = 100,
    ):
        self._limits = {
            "session": max_failures,
            "address": max_failures_per_address,
            "network": max_failures_per_network,
        }
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _buckets(client: ClientKey) -> list[tuple[str, str]]:
        buckets = [("session", f"session:{client.session}")]
        if client.address:
            buckets.append(("address", f"address:{client.address}"))
            network = network_of(client.address)
            if network:
                buckets.append(("network", f"network:{network}"))
        return buckets

    def _forget_old(self, now: float) -> None:
        # Every counter is pruned on every call, so memory holds one window's failures only.
        for key in list(self._failures):
            times = self._failures[key]
            while times and now - times[0] >= self._window:
                times.popleft()
            if not times:
                del self._failures[key]

    def _wait(self, client: ClientKey, now: float) -> float:
        wait = 0.0
        for kind, key in self._buckets(client):
            times = self._failures.get(key)
            if times and len(times) >= self._limits[kind]:
                # The oldest failure that keeps the count at the limit must leave the window.
                wait = max(wait, self._window - (now - times[len(times) - self._limits[kind]]))
        return wait

    def retry_after(self, client: ClientKey | None = None) -> float:
        """Seconds until ``client`` may try again (0 when it may try now)."""
        client = client or ClientKey()
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            return self._wait(client, now)

    def record_failure(self, client: ClientKey | None = None) -> None:
        """Count one wrong password from ``client``."""
        client = client or ClientKey()
        with self._lock:
            self._record(client, self._clock())

    def _record(self, client: ClientKey, now: float) -> None:
        for _kind, key in self._buckets(client):
            self._failures.setdefault(key, deque()).append(now)

    def attempt(self, client: ClientKey, is_right: Callable[[], bool]) -> Attempt:
        """Check the brakes and count the attempt in one step, then run ``is_right`` (the slow
        password check) outside the lock; a right password is uncounted again."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            wait = self._wait(client, now)
            if wait > 0:
                return Attempt(signed_in=False, wait=wait)
            self._record(client, now)
        if not is_right():
            return Attempt(signed_in=False)
        with self._lock:
            for _kind, key in self._buckets(client):
                times = self._failures.get(key)
                if times is not None and now in times:
                    times.remove(now)
        return Attempt(signed_in=True)


# --- the shared password's strength ----------------------------------------------------------------

MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_CLASSES = 3
PASSWORD_RULE = (
    f"at least {MIN_PASSWORD_LENGTH} characters, with at least {MIN_PASSWORD_CLASSES} of: lower-case letters, "
    "upper-case letters, digits, other characters (or 20 characters of any kind), and not one character repeated"
)


def password_problem(password: str) -> str:
    """Why ``password`` is too weak for a public host ("" when it is strong enough)."""
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    long_enough = len(password) >= 20 or (len(password) >= MIN_PASSWORD_LENGTH and classes >= MIN_PASSWORD_CLASSES)
    if not long_enough or len(set(password)) <= 2:
        return f"The password is too weak. It needs {PASSWORD_RULE}."
    return ""


def _read_secrets(path: Path | None) -> dict[str, object]:
    try:
        return read_secrets_file(path)
    except (OSError, ValueError):
        return {}


def _oidc_providers(auth_table: Mapping[str, object]) -> tuple[tuple[str, ...], str]:
    """(provider names, problem) from the ``[auth]`` table."""
    tables: dict[str, Mapping[str, object]] = {
        name: value for name, value in auth_table.items() if isinstance(value, dict) and value.get("client_id")
    }
    if auth_table.get("client_id"):
        tables = {"": auth_table, **tables}
    if not tables:
        return (), "The [auth] table in secrets.toml names no provider with a client_id."
    missing = [key for key in _OIDC_SHARED_KEYS if not auth_table.get(key)]
    for name, table in tables.items():
        missing += [f"{name + '.' if name else ''}{key}" for key in _OIDC_PROVIDER_KEYS if not table.get(key)]
    if missing:
        return tuple(tables), f"The [auth] table in secrets.toml lacks {', '.join(missing)}."
    if importlib.util.find_spec("authlib") is None:
        return tuple(tables), "Sign-in is configured but the Authlib package is missing: install requirements.txt."
    return tuple(tables), ""


def load_access_policy(secrets_path: Path | None = None) -> AccessPolicy:
    """Read the access policy afresh from the environment and the secrets file.

    Args:
        secrets_path: the secrets file (default ``.streamlit/secrets.toml`` in the project).

    Returns:
        The policy; a misconfiguration is reported in ``problem`` and keeps protected pages closed.
    """
    data = _read_secrets(secrets_path)
    showcase = showcase_table(data)
    protected = read_setting("protected", showcase)
    auth_table = data.get("auth")
    if isinstance(auth_table, dict) and auth_table:
        providers, problem = _oidc_providers(auth_table)
        return AccessPolicy(mode=OIDC, protected=protected, providers=providers, problem=problem)
    stored = read_setting("access_password_hash", showcase)
    if stored:
        problem = (
            ""
            if is_valid_hash(stored)
            else "The shared password's hash is malformed: create one with `python -m backend.auth`."
        )
        return AccessPolicy(mode=PASSWORD, protected=protected, problem=problem, password_hash=stored.strip())
    return AccessPolicy(mode=OPEN, protected=protected)


def main() -> None:
    """Ask for the shared password twice and print its hash; a weak password is refused with the rule."""
    import getpass

    typed = getpass.getpass("Shared password: ")
    problem = password_problem(typed)
    if problem:
        raise SystemExit(problem)
    if typed != getpass.getpass("Again: "):
        raise SystemExit("The two entries differ.")
    print("Put this in .streamlit/secrets.toml [showcase] access_password_hash, or LSM_ACCESS_PASSWORD_HASH:")
    print(hash_password(typed))


if __name__ == "__main__":
    main()
