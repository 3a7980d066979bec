"""The settings table in docs/deploying.md and ``.streamlit/secrets.toml.example``, written from
the fields of ``backend.config.Settings`` so that neither can drift from what the app reads.

    python -m backend.settings_docs          # rewrite both
    python -m backend.settings_docs --check  # exit 1 when either differs from the settings
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import Field, fields
from pathlib import Path

from backend.config import PROJECT_ROOT, Endpoint, environment_name, secrets_key, setting_fields

DEPLOYING_PAGE = PROJECT_ROOT / "docs" / "deploying.md"
SECRETS_EXAMPLE = PROJECT_ROOT / ".streamlit" / "secrets.toml.example"
TABLE_START = "<!-- settings table: written by `python -m backend.settings_docs`, do not edit -->"
TABLE_END = "<!-- end of settings table -->"

# Commented-out example values for settings whose default is empty or a secret.
_EXAMPLES = {
    "cpu_engine": '"sentiment=onnx,translation=ctranslate2"',
    "warm_tasks": '["sentiment", "translation"]',
    "job_store": '"postgresql://USER:PASSWORD@pg-host:5432/showcase"',
    "runs_folder": '"/mnt/shared/runs"',
    "access_password_hash": '"pbkdf2_sha256$600000$<salt>$<hex>"',
    "client_address_header": '"X-Real-IP"',
}
_ENDPOINT_EXAMPLE = {
    "base_url": '"http://gpu-host:8000/v1"',
    "model": '"Qwen/Qwen2.5-7B-Instruct"',
    "task": '"text-generation"',
    "api_key": '"..."',
}
_AUTH_EXAMPLE = """\
# OpenID Connect sign-in with Streamlit's st.login: one workspace per user (docs/security.md).
# [auth]
# redirect_uri = "https://your-app.example.com/oauth2callback"
# cookie_secret = "a long random string"
# client_id = "..."
# client_secret = "..."
# server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"
"""


def _default_text(setting: Field) -> str:
    raw = setting.metadata["raw_default"]
    return f"`{raw}`" if raw else "empty"


def settings_table() -> str:
    """The Markdown table of every setting: variable, secrets key, meaning, default."""
    rows = [
        "| environment variable | `[showcase]` key | meaning | default |",
        "| --- | --- | --- | --- |",
    ]
    for setting in setting_fields():
        meaning = setting.metadata["description"]
        if setting.metadata["fallback_env"]:
            meaning += f" `{setting.metadata['fallback_env']}` is read when neither is set."
        rows.append(
            f"| `{environment_name(setting)}` | `{secrets_key(setting)}` | {meaning} | {_default_text(setting)} |"
        )
    return "\n".join(rows) + "\n"


def _toml_value(setting: Field) -> str:
    raw = setting.metadata["raw_default"]
    default = setting.metadata["parse"](raw)
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, int | float):
        return repr(default)
    if isinstance(default, tuple):
        return "[" + ", ".join(f'"{item}"' for item in default) + "]"
    return f'"{raw}"'


def _comment(text: str) -> list[str]:
    plain = text.replace("`", "")
    return textwrap.wrap(plain, width=98, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def secrets_example() -> str:
    """``.streamlit/secrets.toml.example``: every setting under ``[showcase]``, then the servers and sign-in."""
    lines = [
        "# Written by `python -m backend.settings_docs` from backend/config.py; do not edit by hand.",
        "# Copy to .streamlit/secrets.toml (never commit it). The environment variable named in each",
        "# comment overrides the value here.",
        "",
        "[showcase]",
    ]
    for setting in setting_fields():
        if setting.name == "endpoints":
            continue
        also = f" or {setting.metadata['fallback_env']}" if setting.metadata["fallback_env"] else ""
        lines += _comment(f"{setting.metadata['description']} ({environment_name(setting)}{also})")
        example = _EXAMPLES.get(setting.name)
        secret = not setting.repr
        if example is not None or secret:
            lines.append(f"# {secrets_key(setting)} = {example or _toml_value(setting)}")
        else:
            lines.append(f"{secrets_key(setting)} = {_toml_value(setting)}")
    endpoints = next(setting for setting in setting_fields() if setting.name == "endpoints")
    lines += [""]
    lines += _comment(
        "OpenAI-compatible inference servers (vLLM, SGLang, TGI, transformers serve...), offered in the "
        "demos' model pickers by name. Only these addresses are ever called: a model box never takes a URL. "
        f"{environment_name(endpoints)} (a JSON object of the same tables) replaces them all."
    )
    lines.append("# [showcase.endpoints.gpu-chat]")
    for item in fields(Endpoint):
        if item.name == "name":
            continue
        value = _ENDPOINT_EXAMPLE.get(item.name) or repr(item.default)
        lines.append(f"# {f'{item.name} = {value}':<44} # {item.metadata['description']}")
    return "\n".join(lines) + "\n\n" + _AUTH_EXAMPLE


def page_with_table(page_text: str) -> str:
    """``page_text`` with the part between the table's markers replaced by the current table."""
    before, found, rest = page_text.partition(TABLE_START)
    _old, found_end, after = rest.partition(TABLE_END)
    if not found or not found_end:
        raise ValueError(f"{DEPLOYING_PAGE.name} lacks the settings table's markers ({TABLE_START} ... {TABLE_END}).")
    return f"{before}{TABLE_START}\n{settings_table()}{TABLE_END}{after}"


def expected_files() -> dict[Path, str]:
    """Each generated file and the text it should hold."""
    return {
        DEPLOYING_PAGE: page_with_table(DEPLOYING_PAGE.read_text(encoding="utf-8")),
        SECRETS_EXAMPLE: secrets_example(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        if path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(PROJECT_ROOT))
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("Out of date, run `python -m backend.settings_docs`: " + ", ".join(map(str, stale)))
        return 1
    print(("Rewrote " + ", ".join(map(str, stale))) if stale else "The settings docs are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
