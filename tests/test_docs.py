"""The README and docs/ stay readable and true: a short README, links and images that exist, and
every command they show naming a script or module that exists."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "RESULTS.md"]
# One page per reader (issue 24).
READER_PAGES = {"presenting", "deploying", "security", "fine-tuning", "developing", "benchmarks"}
_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
_CODE = re.compile(r"```(?:bash|sh)?\n(.*?)```|`([^`\n]+)`", re.S)


def _commands(text: str) -> list[list[str]]:
    """Each shell command in a code block or inline code span, as words, comments and settings dropped."""
    found = []
    for block, inline in _CODE.findall(text):
        for line in (block or inline).splitlines():
            line = line.split(" #", 1)[0].strip()
            try:
                words = shlex.split(line)
            except ValueError:
                continue
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words = words[1:]
            if words and words[0] in ("bash", "python", ".venv/bin/python"):
                found.append(words)
    return found


def test_the_readme_is_short_and_points_at_one_page_per_reader():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    assert "bash scripts/app.sh" in readme and "bash scripts/test.sh" in readme
    assert {Path(page).stem for page in re.findall(r"\(docs/([\w-]+\.md)\)", readme)} >= READER_PAGES
    assert {path.stem for path in (ROOT / "docs").glob("*.md")} >= READER_PAGES


def test_every_link_and_image_in_the_docs_exists():
    missing = []
    for page in PAGES:
        for target, _anchor in _LINK.findall(page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")) and not (page.parent / target).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert missing == []


def test_the_screenshot_is_small():
    image = ROOT / "docs" / "images" / "home.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size < 300_000


def test_every_command_in_the_docs_names_a_script_or_module_that_exists():
    unknown = []
    commands = [(page, words) for page in PAGES for words in _commands(page.read_text(encoding="utf-8"))]
    for page, words in commands:
        where = f"{page.relative_to(ROOT)}: {' '.join(words)}"
        if words[0] == "bash":
            if not (ROOT / words[1]).is_file():
                unknown.append(where)
        elif words[1:2] == ["-m"]:
            if importlib.util.find_spec(words[2]) is None:
                unknown.append(where)
        elif not (ROOT / words[1]).is_file():
            unknown.append(where)
    assert len(commands) > 20 and unknown == []


def test_the_command_finder_sees_blocks_inline_code_and_settings_before_a_command():
    text = "Run `bash scripts/app.sh` or\n```bash\nLSM_OFFLINE=1 .venv/bin/python -m backend.worker  # a worker\n```\n"
    assert _commands(text) == [["bash", "scripts/app.sh"], [".venv/bin/python", "-m", "backend.worker"]]


# backend/models is split into rooms by concern; the layout names each room and each module in it.
_MODEL_ROOMS = ("resolve", "fetch", "load", "engines")


def test_the_layout_names_every_top_level_part_of_backend_and_pages():
    developing = (ROOT / "docs" / "developing.md").read_text(encoding="utf-8")
    layout = developing.split("## Layout", 1)[1].split("```")[1]
    named = set(re.findall(r"[\w.]+", layout))
    parts = [
        path
        for folder in ("backend", "pages", "backend/models", *(f"backend/models/{room}" for room in _MODEL_ROOMS))
        for path in (ROOT / folder).iterdir()
        if not path.name.startswith(("_", ".")) and (path.suffix == ".py" or path.is_dir())
    ]
    unnamed = [str(path.relative_to(ROOT)) for path in parts if path.name not in named and path.stem not in named]
    assert parts and unnamed == []
