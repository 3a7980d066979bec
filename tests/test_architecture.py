"""The layer rules of docs/developing.md ("Layer rules") that code review alone would miss."""

import ast
import re
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


# --- import cycles inside backend/ --------------------------------------------------------------


def _backend_import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each backend module and the backend modules it imports, at any depth (lazy imports count)."""
    paths = {_module_name_under(root, path): path for path in (root / "backend").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from package import module` imports the module; `from module import name` the module.
                targets.update(
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base for alias in node.names
                )
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def _module_name_under(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected group of two or more modules (or a
    module importing itself), sorted, so a failure names every module involved.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        # Tarjan's algorithm; the graph has a few hundred nodes, so recursion depth is fine.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert find_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_import_graph_sees_lazy_and_relative_imports(tmp_path):
    package = tmp_path / "backend" / "jobs"
    package.mkdir(parents=True)
    (tmp_path / "backend" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "queue.py").write_text("def run():\n    from backend.jobs.worker import execute\n")
    (package / "worker.py").write_text("from . import queue\n")
    graph = _backend_import_graph(tmp_path)
    assert graph["backend.jobs.queue"] == {"backend.jobs.worker"}
    assert graph["backend.jobs.worker"] == {"backend.jobs.queue"}
    assert find_cycles(graph) == [["backend.jobs.queue", "backend.jobs.worker"]]


def test_backend_has_no_import_cycles():
    assert find_cycles(_backend_import_graph()) == []


def _full_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_job_machinery_knows_no_task():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _full_imports(path)
            if name.startswith(("backend.training", "backend.inference", "backend.models", "backend.worker"))
            # The one out-of-memory detector is a leaf (torch + errors) that knows no task either.
            and not name.startswith("backend.models.memory")
        )
        for path in (ROOT / "backend" / "jobs").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_demos_do_not_depend_on_training_or_the_fine_tuning_widgets():
    demo_files = [*(ROOT / "pages" / "demos").glob("*.py"), ROOT / "pages" / "components" / "batch.py"]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _full_imports(path)
            if name.startswith("backend.training") or name == "pages.components.finetune"
        )
        for path in demo_files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


# --- cycles between packages --------------------------------------------------------------------
# A module cycle is one tangle; a package cycle is two rooms that each need the other, which makes
# neither understandable alone. Entry points (``__main__``) sit above every package, like app.py.


def _package_graph(graph: dict[str, set[str]], depth: int) -> dict[str, set[str]]:
    """``graph`` collapsed to packages ``depth`` names deep (2: ``backend.models``; 3:
    ``backend.models.resolve``); modules not that deep stand for themselves.
    """

    def room(module: str) -> str:
        return ".".join(module.split(".")[:depth])

    rooms: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module.endswith(".__main__"):
            continue
        rooms.setdefault(room(module), set()).update(room(t) for t in targets if not t.endswith(".__main__"))
    return {name: targets - {name} for name, targets in rooms.items()}


def test_the_package_graph_collapses_modules_into_rooms():
    graph = {"backend.a.x": {"backend.b.y"}, "backend.b.y": {"backend.a.z"}, "backend.a.z": set()}
    assert find_cycles(_package_graph(graph, 2)) == [["backend.a", "backend.b"]]
    assert find_cycles(graph) == []


def test_no_two_backend_packages_import_each_other():
    graph = _backend_import_graph()
    assert find_cycles(_package_graph(graph, 2)) == []
    assert find_cycles(_package_graph(graph, 3)) == []


def _source_files(root: Path) -> list[Path]:
    return [root / "app.py", *sorted((root / "backend").rglob("*.py")), *sorted((root / "pages").rglob("*.py"))]


def _classes_named_twice(files: list[Path]) -> dict[str, list[str]]:
    """Class names defined in more than one place, with where."""
    places: dict[str, list[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                places.setdefault(node.name, []).append(path.name)
    return {name: where for name, where in places.items() if len(where) > 1}


def _catalog_spellings(files: list[Path]) -> set[str]:
    """Names (modules, classes, functions, variables, import aliases) that spell catalogue as catalog."""
    names: set[str] = set()
    for path in files:
        names.add(path.stem)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name)
    return {name for name in names if re.search(r"catalog(?!ue)", name, re.IGNORECASE)}


def test_the_name_checks_see_a_second_class_and_a_catalog(tmp_path):
    (tmp_path / "a.py").write_text("class Mapping:\n    pass\n")
    (tmp_path / "b.py").write_text("from x import catalogue as model_catalog\nclass Mapping:\n    pass\n")
    files = [tmp_path / "a.py", tmp_path / "b.py"]
    assert _classes_named_twice(files) == {"Mapping": ["a.py", "b.py"]}
    assert _catalog_spellings(files) == {"model_catalog"}


def test_no_two_classes_share_a_name():
    # One name, one thing: a reader (and an import) never has to ask which ``ColumnMapping``.
    assert _classes_named_twice(_source_files(ROOT)) == {}


def test_catalogue_is_spelled_one_way():
    assert _catalog_spellings(_source_files(ROOT)) == set()
