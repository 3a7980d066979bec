"""The gettext catalogues, managed with Babel: extraction from the code, updating the Chinese
catalogue, compiling it to ``.mo``, and the checks the tests and ``python -m backend.i18n check`` run.

The ``.po`` files are the source (committed); the ``.mo`` files are built from them by
``scripts/setup.sh`` and, where a host skipped it (Community Cloud runs no setup script), by the app
itself on first use, so a missing or stale ``.mo`` never shows the app in English unnoticed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog as Catalogue
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from backend.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE_DIR, compiled_catalogue

ROOT = Path(__file__).resolve().parents[2]
# Where user-visible strings live: the entry point, the pages and the backend (its messages to users).
SOURCES: tuple[str, ...] = ("app.py", "pages", "backend")
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None}
# Data files whose text is shown translated, and the keys that hold it.
DATA_SOURCES: dict[str, tuple[str, ...]] = {"data/models/catalogue.toml": ("description",)}
PROJECT = "Large Model Showcase"
# A placeholder as str.format reads it: {name}, {name:,.0f}, {name!r}.
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z_0-9]*)")


def catalogue_path(language: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def translated_languages() -> list[str]:
    return [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]


def _source_files() -> Iterator[Path]:
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            yield path
        else:
            yield from sorted(file for file in path.rglob("*.py") if "__pycache__" not in file.parts)


def _data_strings(path: Path, keys: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """Each one-line ``key = "text"`` of ``keys`` in a TOML data file, with its line number."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        key = line.partition("=")[0].strip()
        if key in keys:
            yield lineno, tomllib.loads(line)[key]


def extract() -> Catalogue:
    """Every marked string in the sources and every shown text of the data files, as a template
    catalogue (the ``.pot``)."""
    template = Catalogue(project=PROJECT, charset="utf-8", fuzzy=False)
    for path in _source_files():
        relative = path.relative_to(ROOT).as_posix()
        for lineno, message, comments, context in extract_from_file("python", path, keywords=KEYWORDS):
            template.add(message, None, [(relative, lineno)], auto_comments=comments, context=context)
    for relative, keys in DATA_SOURCES.items():
        for lineno, message in _data_strings(ROOT / relative, keys):
            template.add(message, None, [(relative, lineno)])
    return template


def read_catalogue(path: Path, locale: str | None = None) -> Catalogue:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _write_po(catalogue: Catalogue, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as target:
        write_po(target, catalogue, width=100, sort_output=False, omit_header=False)


def update() -> list[str]:
    """Writes the template from the code and brings each language's ``.po`` up to it.

    Returns:
        The message ids that are new to some catalogue and still need a translation.
    """
    template = extract()
    _write_po(template, TEMPLATE)
    new: list[str] = []
    for language in translated_languages():
        path = catalogue_path(language)
        if path.exists():
            catalogue = read_catalogue(path, language)
        else:
            catalogue = Catalogue(locale=language, project=PROJECT, charset="utf-8", fuzzy=False)
        known = {message.id for message in catalogue if message.id}
        # No fuzzy guesses: a guessed translation of a different English sentence is worse than none.
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        new += [message.id for message in catalogue if message.id and message.id not in known]
        _write_po(catalogue, path)
    return [m if isinstance(m, str) else m[0] for m in new]


def compile_language(language: str) -> Path:
    """Compiles one language's ``.po`` into the ``.mo`` gettext reads, where it is missing or stale."""
    return compiled_catalogue(language)


def compile_all() -> list[Path]:
    return [compile_language(language) for language in translated_languages()]


def _ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (list, tuple)) else (message.id,)


def _strings(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def problems(language: str, template: Catalogue | None = None, path: Path | None = None) -> list[str]:
    """What is wrong with one language's catalogue against the code: entries missing, empty or
    fuzzy, and translations that drop or invent a ``{placeholder}`` (``str.format`` would fail)."""
    template = template if template is not None else extract()
    path = path if path is not None else catalogue_path(language)
    if not path.exists():
        return [f"no catalogue at {path}"]
    catalogue = read_catalogue(path, language)
    found: list[str] = []
    for wanted in template:
        if not wanted.id:
            continue
        entry = catalogue.get(wanted.id, context=wanted.context)
        name = _ids(wanted)[0]
        if entry is None:
            found.append(f"missing: {name!r}")
        elif entry.fuzzy:
            found.append(f"fuzzy: {name!r}")
        elif not all(_strings(entry)) or len(_strings(entry)) < (catalogue.num_plurals if entry.pluralizable else 1):
            found.append(f"untranslated: {name!r}")
        else:
            expected = set().union(*(placeholders(text) for text in _ids(entry)))
            for text in _strings(entry):
                if placeholders(text) != expected:
                    found.append(f"placeholders differ: {name!r} -> {text!r}")
    return found
