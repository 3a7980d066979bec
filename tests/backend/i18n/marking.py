"""Finds user-visible English that is not marked for translation, by reading the code (ast).

Shared by the tests of this folder: what counts as a string a person reads (arguments of Streamlit's
display and widget calls, and the message and hint of a ShowcaseError), and what counts as marked
(inside ``_()``, ``ngettext()`` or ``N_()``, or a ``.format`` of one of them).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MARKERS = frozenset({"_", "ngettext", "N_"})
# Streamlit calls whose first argument (and, for tabs, every argument) is text a person reads
# (page_link and Page take a path first; their label= and title= are checked as keywords).
TEXT_CALLS = frozenset(
    [
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "write",
        "text",
        "error",
        "warning",
        "info",
        "success",
        "toast",
        "button",
        "download_button",
        "form_submit_button",
        "link_button",
        "checkbox",
        "toggle",
        "radio",
        "selectbox",
        "multiselect",
        "slider",
        "select_slider",
        "text_input",
        "text_area",
        "number_input",
        "date_input",
        "time_input",
        "file_uploader",
        "camera_input",
        "audio_input",
        "color_picker",
        "expander",
        "tabs",
        "metric",
        "popover",
        "status",
        "spinner",
        "segmented_control",
        "pills",
        "chat_input",
        "progress",
        "dialog",
        "badge",
        "menu_button",
        "TextColumn",
        "NumberColumn",
        "ProgressColumn",
        "LinkColumn",
        "CheckboxColumn",
        "SelectboxColumn",
        "ListColumn",
        "DateColumn",
        "DatetimeColumn",
        "Column",
        "LineChartColumn",
        "BarChartColumn",
        "ImageColumn",
    ]
)
# Keyword arguments that are text a person reads, in any call (widgets, figures, columns).
TEXT_KEYWORDS = frozenset(
    {
        "label",
        "help",
        "placeholder",
        "caption",
        "title",
        "xaxis_title",
        "yaxis_title",
        "legend_title",
        "x_label",
        "y_label",
    }
)
_ICON = re.compile(r":material/[a-z_0-9]+:|:[a-z_0-9+-]+:")
_WORD = re.compile(r"[A-Za-z]{2,}")


def is_wordy(text: str) -> bool:
    """Whether a literal holds words (two letters or more), once icons are taken out."""
    return _WORD.search(_ICON.sub("", text)) is not None


def _is_marker_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name) and func.id in MARKERS:
        return True
    # _("{n} models").format(n=...)
    return isinstance(func, ast.Attribute) and func.attr == "format" and _is_marker_call(func.value)


def unmarked_literals(expression: ast.AST) -> Iterator[ast.AST]:
    """Literals with words in an argument, not inside a marker; other calls' arguments are their own."""
    if isinstance(expression, ast.Constant):
        if isinstance(expression.value, str) and is_wordy(expression.value):
            yield expression
    elif isinstance(expression, ast.JoinedStr):
        text = "".join(part.value for part in expression.values if isinstance(part, ast.Constant))
        if is_wordy(text):
            yield expression
    elif isinstance(expression, ast.BinOp):
        yield from unmarked_literals(expression.left)
        yield from unmarked_literals(expression.right)
    elif isinstance(expression, ast.IfExp):
        yield from unmarked_literals(expression.body)
        yield from unmarked_literals(expression.orelse)
    elif isinstance(expression, ast.BoolOp):
        for value in expression.values:
            yield from unmarked_literals(value)
    elif isinstance(expression, (ast.List, ast.Tuple)):
        for element in expression.elts:
            yield from unmarked_literals(element)


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def _is_log_call(call: ast.Call) -> bool:
    """Logging (``_log.error(...)``) is read by operators in the server's log, in English."""
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    return isinstance(receiver, ast.Name) and receiver.id in {"_log", "log", "logger", "logging"}


def shown_arguments(call: ast.Call) -> list[ast.AST]:
    """The arguments of a call that a person reads."""
    name = _call_name(call)
    if name in MARKERS or _is_log_call(call):
        return []
    shown: list[ast.AST] = []
    if name in TEXT_CALLS and call.args:
        shown += call.args if name == "tabs" else call.args[:1]
    shown += [keyword.value for keyword in call.keywords if keyword.arg in TEXT_KEYWORDS]
    return shown


def _where(path: Path, node: ast.AST) -> str:
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    return f"{shown}:{node.lineno}: {ast.unparse(node)[:80]}"


def unmarked_in_page(path: Path) -> list[str]:
    """User-visible literals in a page or component (Streamlit calls) that are not marked."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        _where(path, literal)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for argument in shown_arguments(node)
        for literal in unmarked_literals(argument)
    ]


@functools.cache
def error_classes() -> frozenset[str]:
    """Names of ShowcaseError and every class under backend/ that derives from it."""
    bases: dict[str, set[str]] = {}
    for path in (ROOT / "backend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases
                )
    found = {"ShowcaseError"}
    grew = True
    while grew:
        grown = {name for name, parents in bases.items() if parents & found}
        grew = not grown <= found
        found |= grown
    return frozenset(found)


def unmarked_in_errors(path: Path, classes: frozenset[str]) -> list[str]:
    """Messages and hints of ShowcaseErrors made in a backend module that are not marked."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name not in classes:
            continue
        shown = list(node.args[:2]) + [k.value for k in node.keywords if k.arg in {"message", "hint"}]
        found += [_where(path, literal) for argument in shown for literal in unmarked_literals(argument)]
    return found


def unmarked_python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def formatted_markers(path: Path) -> list[str]:
    """Marker calls whose argument is not a plain literal (an f-string, a variable, a concatenation):
    gettext looks up the exact text, so such a string is never found in the catalogue."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
            literal_count = 2 if node.func.id == "ngettext" else 1
            for argument in node.args[:literal_count]:
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    # N_ and _ of a name are how tables are translated where shown: _(page.title).
                    if node.func.id == "_" and isinstance(argument, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                        continue
                    found.append(_where(path, node))
    return found
