"""Layering rules from design.md that code review alone would miss."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_backend_never_imports_streamlit():
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / "backend").rglob("*.py") if "streamlit" in _imported_modules(p)
    ]
    assert offenders == []


def test_backend_does_not_import_pages():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "backend").rglob("*.py") if "pages" in _imported_modules(p)]
    assert offenders == []


def test_architecture_check_sees_a_streamlit_import(tmp_path):
    # Guard against the check above passing vacuously.
    sample = tmp_path / "sample.py"
    sample.write_text("from streamlit import session_state\n")
    assert "streamlit" in _imported_modules(sample)


def test_only_components_use_streamlit_caches():
    offenders = []
    for path in list((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"]:
        if "components" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "st.cache_resource" in text or "st.cache_data" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_test_modules_do_not_import_conftest():
    # Several conftest.py files exist; `from conftest import` picks whichever loaded last.
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != "conftest.py" and "conftest" in _imported_modules(p)
    ]
    assert offenders == []
