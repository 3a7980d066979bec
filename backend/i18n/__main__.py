"""python -m backend.i18n extract | update | compile | check

extract: writes the template (messages.pot) from the marked strings in app.py, pages/ and backend/.
update:  extract, then bring each language's .po up to the template; prints the entries to translate.
compile: builds the .mo files gettext reads (scripts/setup.sh runs this).
check:   fails (exit 1) when a language's entry is missing, empty, fuzzy or loses a placeholder.
"""

from __future__ import annotations

import sys

from backend.i18n import catalogues


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        template = catalogues.extract()
        catalogues._write_po(template, catalogues.TEMPLATE)
        print(f"{len(template)} messages -> {catalogues.TEMPLATE}")
    elif command == "update":
        new = catalogues.update()
        for message in new:
            print(f"to translate: {message!r}")
        print(f"{len(new)} new entries")
    elif command == "compile":
        for path in catalogues.compile_all():
            print(f"compiled {path}")
    elif command == "check":
        template = catalogues.extract()
        found = [
            f"{language}: {p}"
            for language in catalogues.translated_languages()
            for p in catalogues.problems(language, template)
        ]
        print("\n".join(found) or f"every language translates all {len(template)} messages")
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
