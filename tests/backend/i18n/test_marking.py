"""Every string a person reads is marked for translation, and marked so gettext can find it."""

from __future__ import annotations

import ast

import pytest

from tests.backend.i18n.marking import (
    ROOT,
    error_classes,
    formatted_markers,
    shown_arguments,
    unmarked_in_errors,
    unmarked_in_page,
    unmarked_literals,
    unmarked_python_files,
)

PAGE_FILES = [ROOT / "app.py", *unmarked_python_files("pages")]
BACKEND_FILES = unmarked_python_files("backend")
# Files allowed to hold unmarked strings while a change marks them (none now); each must leave the
# list once marked (the last test below fails when a listed file has nothing left to mark).
NOT_YET_MARKED: frozenset[str] = frozenset()


def _name(path):
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", [p for p in PAGE_FILES if _name(p) not in NOT_YET_MARKED], ids=_name)
def test_pages_mark_every_string_they_show(path):
    assert unmarked_in_page(path) == []


@pytest.mark.parametrize("path", [p for p in BACKEND_FILES if _name(p) not in NOT_YET_MARKED], ids=_name)
def test_messages_and_hints_raised_to_users_are_marked(path):
    assert unmarked_in_errors(path, error_classes()) == []


@pytest.mark.parametrize("path", [*PAGE_FILES, *BACKEND_FILES], ids=_name)
def test_marked_strings_are_literals_gettext_can_look_up(path):
    assert formatted_markers(path) == []


def test_files_still_listed_as_unmarked_have_something_left_to_mark():
    classes = error_classes()
    done = [
        name
        for name in NOT_YET_MARKED
        if not (unmarked_in_page(ROOT / name) if not name.startswith("backend/") else [])
        and not unmarked_in_errors(ROOT / name, classes)
    ]
    assert done == [], "remove these from NOT_YET_MARKED"


def _findings(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        ast.unparse(literal)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for argument in shown_arguments(node)
        for literal in unmarked_literals(argument)
    ]


@pytest.mark.parametrize(
    "source",
    [
        'st.title("Models")',
        'st.button("Start", key="job.start")',
        'col.metric(label="Accuracy", value=0.9)',
        'st.caption(f"{n} rows checked")',
        'st.error("Upload failed: " + reason)',
        'st.number_input(_("Epochs"), help="Passes over the data")',
        'st.tabs([_("Chart"), "Table"])',
        'figure.update_layout(title="Adoption by year")',
    ],
)
def test_an_unmarked_string_is_found(source):
    assert _findings(source) != []


@pytest.mark.parametrize(
    "source",
    [
        'st.title(_("Models"))',
        'st.caption(_("{n} rows checked").format(n=n))',
        'st.caption(ngettext("{n} row", "{n} rows", n).format(n=n))',
        'st.markdown(f":material/dns: **{name}**")',
        'st.text_input(_("Title"), key="job.title")',
        "st.write(value)",
    ],
)
def test_marked_strings_icons_and_values_are_not_findings(source):
    assert _findings(source) == []


def test_an_f_string_inside_the_marker_is_found(tmp_path):
    module = tmp_path / "page.py"
    module.write_text('st.title(_(f"{n} models"))\nst.title(_("{n} models").format(n=n))\n', encoding="utf-8")
    found = formatted_markers(module)
    assert len(found) == 1 and "f'{n} models'" in found[0]


def test_every_marked_literal_reaches_the_catalogue():
    """A marker gettext never extracts (inside an f-string, on Python before 3.12) is never translated."""
    from backend.i18n import catalogues

    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogues.extract() if m.id}
    missed = []
    for path in [*PAGE_FILES, *BACKEND_FILES]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"_", "N_", "ngettext"}
            ):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value not in extracted:
                    missed.append(f"{_name(path)}:{node.lineno}: {first.value[:60]!r}")
    assert missed == []
