"""The gettext catalogues: complete and exact in Chinese, compiled when missing or stale, and used."""

from __future__ import annotations

import csv
import re
import shutil

import pytest
from babel.messages.pofile import read_po, write_po

import backend.i18n as i18n
from backend.i18n import _, catalogues, ngettext, normalise, use_language

GLOSSARY = i18n.LOCALE_DIR.parent / "glossary.csv"


@pytest.fixture(scope="module")
def template():
    return catalogues.extract()


def test_every_marked_string_has_a_finished_chinese_translation(template):
    assert catalogues.problems("zh", template) == []


def test_the_committed_template_lists_what_the_code_marks(template):
    with catalogues.TEMPLATE.open("rb") as committed:
        listed = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(committed)}
    marked = {message.id if isinstance(message.id, str) else message.id[0] for message in template}
    assert listed == marked, "run: python -m backend.i18n update"


def test_a_missing_fuzzy_or_misplaced_entry_is_reported(template, tmp_path):
    with catalogues.catalogue_path("zh").open("rb") as source:
        catalogue = read_po(source, locale="zh")
    ids = [message.id for message in template if message.id and isinstance(message.id, str)]
    # Three different entries, whatever order extraction gives: a placeholder entry made fuzzy
    # would be reported as fuzzy, not as losing its placeholder.
    missing, fuzzy = [i for i in ids if not catalogues.placeholders(i)][:2]
    with_placeholder = next(i for i in ids if catalogues.placeholders(i))
    catalogue.delete(missing)
    catalogue[fuzzy].flags.add("fuzzy")
    catalogue[with_placeholder].string = "没有占位符"
    broken = tmp_path / "messages.po"
    with broken.open("wb") as target:
        write_po(target, catalogue)
    found = catalogues.problems("zh", template, broken)
    assert f"missing: {missing!r}" in found
    assert f"fuzzy: {fuzzy!r}" in found
    assert any(line.startswith(f"placeholders differ: {with_placeholder!r}") for line in found)


def test_chinese_is_served_from_the_catalogue_and_english_is_the_source():
    with use_language("zh"):
        assert _("Home") == "首页"
        assert _("Language") == "语言"
    with use_language("en"):
        assert _("Home") == "Home"


def test_chinese_has_one_plural_form_and_english_two():
    with catalogues.catalogue_path("zh").open("rb") as source:
        catalogue = read_po(source, locale="zh")
    assert catalogue.plural_forms == "nplurals=1; plural=0;"
    with use_language("en"):
        assert ngettext("{count} model", "{count} models", 1) == "{count} model"
        assert ngettext("{count} model", "{count} models", 3) == "{count} models"


@pytest.mark.parametrize(
    ("tag", "language"), [("zh-CN", "zh"), ("zh_Hans", "zh"), ("ZH", "zh"), ("en-GB", "en"), ("fr", "en"), (None, "en")]
)
def test_browser_and_address_tags_become_a_known_language(tag, language):
    assert normalise(tag) == language


def _copy_locales(tmp_path, monkeypatch):
    folder = tmp_path / "locales"
    shutil.copytree(i18n.LOCALE_DIR, folder, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", folder)
    return folder / "zh" / "LC_MESSAGES"


def test_a_missing_compiled_catalogue_is_built_from_the_po(tmp_path, monkeypatch):
    folder = _copy_locales(tmp_path, monkeypatch)
    compiled = i18n.compiled_catalogue("zh")
    assert compiled == folder / "messages.mo"
    assert compiled.exists()


def test_a_stale_compiled_catalogue_is_rebuilt(tmp_path, monkeypatch):
    folder = _copy_locales(tmp_path, monkeypatch)
    (folder / "messages.mo").write_bytes(b"stale")
    source = folder / "messages.po"
    import os

    os.utime(folder / "messages.mo", (1, 1))
    i18n.compiled_catalogue("zh")
    assert (folder / "messages.mo").read_bytes() != b"stale"
    assert (folder / "messages.mo").stat().st_mtime >= source.stat().st_mtime


def test_a_language_without_a_catalogue_fails_loudly(tmp_path, monkeypatch):
    folder = _copy_locales(tmp_path, monkeypatch)
    (folder / "messages.po").unlink()
    with pytest.raises(FileNotFoundError, match="zh"):
        i18n.compiled_catalogue("zh")


def _glossary() -> list[dict[str, str]]:
    with GLOSSARY.open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


def test_the_glossary_holds_the_terms_the_issue_names():
    terms = {row["en"] for row in _glossary()}
    assert {"model", "fine-tuning", "adoption", "enterprise", "respondent", "forecast", "job", "base model"} <= terms
    assert all(row["zh"] for row in _glossary())


def test_every_translation_uses_the_glossarys_terms():
    with catalogues.catalogue_path("zh").open("rb") as source:
        catalogue = read_po(source, locale="zh")
    departures = []
    for row in _glossary():
        term = re.compile(rf"\b{re.escape(row['en'])}s?\b", re.IGNORECASE)
        for message in catalogue:
            english = message.id if isinstance(message.id, str) else " ".join(message.id)
            # Placeholders ({label}) and code (`...`, ```...```) are not words to translate.
            english = re.sub(r"```.*?```|`[^`]*`|\{[^}]*\}", "", english, flags=re.DOTALL)
            chinese = message.string if isinstance(message.string, str) else " ".join(message.string)
            if message.id and term.search(english) and row["zh"] not in chinese:
                departures.append(f"{row['en']} -> {row['zh']}: {english!r} -> {chinese!r}")
    assert departures == []
