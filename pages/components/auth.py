"""Who is using the app, and the sign-in screen in front of protected sections.

Without sign-in configured, or with the shared password, everyone shares one workspace (owner
""), so a browser refresh or a second tab still finds every job. With OpenID Connect sign-in, each
user's owner id is their identity, and their uploads, jobs and models are theirs alone.
"""

from __future__ import annotations

import secrets

import streamlit as st

from backend import auth
from backend.config import OPERATOR_ACTIONS, get_settings
from backend.i18n import _
from backend.jobs import quotas
from backend.text_safety import plain_markdown

_PASSWORD_FLAG = "auth.password_ok"
_CLIENT_ID = "auth.client_id"


@st.cache_resource(show_spinner=False)
def _password_limiter() -> auth.AttemptLimiter:
    """One limiter for the whole process; it counts each client's wrong guesses separately."""
    return auth.AttemptLimiter()


def client_address() -> str | None:
    """The visitor's address (from the proxy's header when one is named), None on localhost."""
    # A reverse proxy on another host makes every client share its address; the setting names the
    # header that carries the real one (only set behind such a proxy: clients can write any header).
    header = get_settings().client_address_header
    if header:
        # The proxy appends the address it saw last; earlier entries are whatever the client sent.
        value = str(st.context.headers.get(header) or "").split(",")[-1].strip()
        if value:
            return value
    return st.context.ip_address


def client_key() -> auth.ClientKey:
    """This browser session and its address, for the password limiter."""
    if _CLIENT_ID not in st.session_state:
        st.session_state[_CLIENT_ID] = secrets.token_hex(16)
    return auth.ClientKey(session=st.session_state[_CLIENT_ID], address=client_address())


def count_work_against_this_visitor() -> None:
    """Job quotas (``backend.jobs.quotas``) count this run's submissions against this visitor's address."""
    quotas.set_client(client_address() or client_key().session)


def access_policy() -> auth.AccessPolicy:
    """The access policy, read on every run so a changed secrets file applies at once."""
    return auth.load_access_policy()


def _oidc_signed_in() -> bool:
    user = getattr(st, "user", None)
    return bool(user is not None and user.get("is_logged_in", False))


def is_signed_in(policy: auth.AccessPolicy | None = None) -> bool:
    """Whether this session passed the configured sign-in (always true when the app is open)."""
    policy = policy or access_policy()
    if policy.mode == auth.OIDC:
        return _oidc_signed_in()
    if policy.mode == auth.PASSWORD:
        return bool(st.session_state.get(_PASSWORD_FLAG, False))
    return True


def current_owner() -> str:
    """The signed-in user's stable id, or "" for the shared anonymous workspace."""
    if not _oidc_signed_in():
        return ""
    return auth.owner_from_claims(st.user.to_dict())


def can_open(section: str, page_path: str = "") -> bool:
    """Whether this session may open the page ``page_path`` of ``section``."""
    policy = access_policy()
    if not policy.needs_sign_in(section, page_path):
        return True
    return not policy.problem and is_signed_in(policy)


def may_run_operator_actions() -> bool:
    """Whether this session may run the actions that act for everyone (``OPERATOR_ACTIONS``)."""
    return can_open(OPERATOR_ACTIONS)


OPERATOR_ACTIONS_SIGN_IN = (
    "Unloading every model and preparing every default act for all visitors, so they need sign-in: "
    "sign in on a protected page (such as Fine-tuning), then come back."
)


def _show_password_form() -> None:
    limiter = _password_limiter()
    with st.form("auth.password_form"):
        typed = st.text_input(_("Shared password"), type="password", key="auth.password")
        submitted = st.form_submit_button(_("Sign in"), icon=":material/login:")
    if not submitted:
        return
    stored = access_policy().password_hash
    attempt = limiter.attempt(client_key(), lambda: auth.check_password(typed, stored))
    if attempt.wait > 0:
        st.error(
            _("Too many wrong passwords. Try again in {wait:,.0f} seconds.").format(wait=attempt.wait),
            icon=":material/timer:",
        )
        return
    if attempt.signed_in:
        st.session_state[_PASSWORD_FLAG] = True
        st.rerun()
    st.error(_("That password is not right."), icon=":material/lock:")


def show_sign_in(title: str) -> None:
    """The screen shown instead of the protected page ``title``: why, and how to sign in."""
    policy = access_policy()
    st.title(_("Sign in"))
    st.markdown(
        _("**{title}** handles your own data, so it needs sign-in. The demos stay open to everyone.").format(
            title=title
        )
    )
    if policy.problem:
        st.error(
            _("Sign-in is not set up correctly: {problem}").format(problem=policy.problem),
            icon=":material/settings_alert:",
        )
        return
    if policy.mode == auth.OIDC:
        for provider in policy.providers:
            label = f"Sign in with {provider.title()}" if provider else "Sign in"
            if st.button(label, key=f"auth.login.{provider or 'default'}", icon=":material/login:"):
                st.login(provider or None)
    else:
        _show_password_form()


def show_account_sidebar() -> None:
    """Who is signed in, and a way out; nothing when the app is open to all."""
    policy = access_policy()
    if policy.mode == auth.OPEN or not is_signed_in(policy):
        return
    with st.sidebar:
        if policy.mode == auth.OIDC:
            # The name comes from the identity provider, where the user chose it: plain text only.
            name = st.user.get("name") or st.user.get("email") or "signed in"
            st.caption(f":material/account_circle: {plain_markdown(name)}")
            if st.button(_("Sign out"), key="auth.logout", icon=":material/logout:"):
                st.logout()
        else:
            st.caption(":material/group: " + _("Signed in with the shared password (one shared workspace)"))
            if st.button(_("Sign out"), key="auth.logout", icon=":material/logout:"):
                st.session_state.pop(_PASSWORD_FLAG, None)
                st.rerun()
