"""Which language a text is written in, by its script, and whether a model handles it.

A script count, not a model: Han characters say Chinese (with kana, Japanese), Hangul Korean, Latin
letters a Latin-script language (taken as English, the one the catalogue's Latin-only models
handle). It tells an English-only model's Chinese input from its English input, which is what the
demos must admit to ("this model handles English only"); it does not tell French from English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from backend.i18n import N_, _

# Language code -> name (English, shown translated), for the codes the catalogue uses.
LANGUAGE_NAMES = {
    "en": N_("English"),
    "zh": N_("Chinese"),
    "ja": N_("Japanese"),
    "ko": N_("Korean"),
    "de": N_("German"),
    "fr": N_("French"),
    "es": N_("Spanish"),
    "it": N_("Italian"),
    "pt": N_("Portuguese"),
    "ru": N_("Russian"),
    "ar": N_("Arabic"),
    "hi": N_("Hindi"),
    "id": N_("Indonesian"),
    "ms": N_("Malay"),
    "vi": N_("Vietnamese"),
}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Latin-script languages of the catalogue: a Latin text counts as handled by any of them.
_LATIN_LANGUAGES = {"en", "de", "fr", "es", "it", "pt", "id", "ms", "vi"}


def detect_language(text: str) -> str | None:
    """ "zh", "ja", "ko" or "en" by the script most of the text's letters are in; None when the
    text has no letters."""
    han, kana, hangul = len(_HAN.findall(text)), len(_KANA.findall(text)), len(_HANGUL.findall(text))
    # A CJK character carries about a word: weigh it against Latin words, not letters.
    latin_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]+", text))
    counts = {"zh": han, "ja": kana * 2 if kana else 0, "ko": hangul, "en": latin_words}
    if kana and han:
        counts["ja"] += han
    language, count = max(counts.items(), key=lambda item: item[1])
    return language if count else None


def _names(languages: Sequence[str]) -> str:
    names = [_(LANGUAGE_NAMES[code]) if code in LANGUAGE_NAMES else code for code in languages]
    if len(names) == 1:
        return names[0]
    # A list's separator is the language's own (", " in English, "、" in Chinese).
    return _("{names} and {last}").format(names=_(", ").join(names[:-1]), last=names[-1])


def handles(languages: Sequence[str], language: str | None) -> bool:
    """Whether a model of ``languages`` ("" or empty: unknown, taken as yes) handles ``language``."""
    if not languages or language is None:
        return True
    if language == "en":
        return bool(_LATIN_LANGUAGES & set(languages))
    return language in languages


def language_notice(text: str, languages: Sequence[str], what: str = "") -> str | None:
    """A sentence for next to an answer when ``text`` is in a language the model does not handle;
    None when it does, or when the model's languages are unknown.

    Args:
        text: the input (a message, a review, a query).
        languages: the model's language codes (``model_registry.languages_of``).
        what: what may be off, translated ("the answer", the default; "the ranking").
    """
    language = detect_language(text)
    if handles(languages, language):
        return None
    return _(
        "This model handles {languages} only; this text looks {language}, so {what} may be meaningless. "
        "Pick a model that handles {language}."
    ).format(languages=_names(languages), language=_(LANGUAGE_NAMES[language]), what=what or _("the answer"))
