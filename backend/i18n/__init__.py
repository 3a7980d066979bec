"""The language a person reads the app in, and the gettext catalogues (managed with Babel) that say it.

Mark every user-visible string with ``_()`` (or ``ngettext`` for counts); mark strings defined at
import time (tables, labels in constants) with ``N_()`` and translate them with ``_()`` where they are
shown. The language belongs to one run of a page: Streamlit runs a session's script on its own thread,
so it lives in a context variable that ``app.py`` sets once at the top of every run. A message raised
to a user is therefore translated where it is made, in the language of the run that made it. A worker
process sets it from the job's stored language (``use_language``), so job messages and model cards are
in the language of the person who started the job.
"""

from __future__ import annotations

import functools
import gettext
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# The languages the app is shown in, by the code used in the address (``?lang=zh``), with the name
# each language calls itself (what the switch shows).
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("showcase_language", default=DEFAULT_LANGUAGE)


def normalise(tag: str | None) -> str:
    """A browser or address language tag (``zh-CN``, ``zh_Hans``, ``en-GB``, junk) as one of ``LANGUAGES``."""
    if not tag:
        return DEFAULT_LANGUAGE
    primary = str(tag).strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def compiled_catalogue(language: str) -> Path:
    """The ``.mo`` of one language, compiled from its ``.po`` first where it is missing or older.

    ``scripts/setup.sh`` compiles every catalogue; a host that ran no setup script (Community Cloud)
    gets it here on first use. A language without a ``.po`` raises rather than showing English.
    """
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    source, compiled = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if not source.exists():
        raise FileNotFoundError(f"No {language!r} catalogue at {source}: the app cannot be shown in that language.")
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        return compiled
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with source.open("rb") as po:
        catalogue = read_po(po, locale=language)
    partial = compiled.with_name(f"{DOMAIN}.mo.{os.getpid()}.partial")
    with partial.open("wb") as mo:
        write_mo(mo, catalogue, use_fuzzy=False)
    # Replaced in one step, so a process reading the catalogue never sees half a file.
    partial.replace(compiled)
    return compiled


@functools.cache
def _catalogue(language: str) -> gettext.NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    with open(compiled_catalogue(language), "rb") as mo:
        return gettext.GNUTranslations(mo)


def current_language() -> str:
    return _current.get()


def set_language(language: str | None) -> str:
    """Sets the language of this run (normalised) and returns it."""
    language = normalise(language)
    _current.set(language)
    return language


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Runs a block in one language and restores the previous one (workers, exports, tests)."""
    token = _current.set(normalise(language))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language (itself where the catalogue has no entry)."""
    return _catalogue(current_language()).gettext(message)


def translated(message: str, language: str) -> str:
    """``message`` in ``language``, whatever this run's language is (to compare with another
    language's text, e.g. whether a box still holds the untouched default)."""
    return _catalogue(normalise(language)).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for ``count``, by the current language's plural rule."""
    return _catalogue(current_language()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it yet (translate with ``_()`` where shown)."""
    return message


def translated_headers(rows: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """Table rows with their column names (English keys, marked with ``N_`` where the rows are made)
    in the current language, for showing; exports keep the stable English keys."""
    return [{_(key): value for key, value in row.items()} for row in rows]
