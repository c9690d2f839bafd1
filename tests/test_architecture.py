"""The core's rooms stand in layers: imports point down, never up, never in a circle.

Every import in `hallu_core` counts, the ones inside functions too (a local import that dodges
a circular import at load time is still a cycle in the design); only `if TYPE_CHECKING:` blocks
are left out. The layers are the ones hallu_core/__init__.py names.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hallu_core"

# lower numbers lie lower; a room may import its own modules and rooms strictly below it
LAYERS = {"hallu_core": 0, "store": 1, "data": 2, "modeling": 3, "detection": 3, "labeling": 4, "rates": 5,
          "views": 6, "demo": 7, "jobs": 8, "cli": 9, "ui": 9}
MAX_LINES = 300


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "hallu_core"


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, modules: set[str], package_dir: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) for every hallu_core module `path` imports."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        found.extend((node.lineno, t) for t in targets if t in modules and t != name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[int, str]]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) for name, path in files.items()}


def test_every_room_has_a_place_in_the_layers():
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(LAYERS) - {"hallu_core"}


def test_imports_point_down(graph):
    upward = [f"{a} (line {line}) imports {b}: {room(a)} (layer {LAYERS[room(a)]}) may not import "
              f"{room(b)} (layer {LAYERS[room(b)]})"
              for a, edges in graph.items() for line, b in edges
              if room(a) != room(b) and LAYERS[room(b)] >= LAYERS[room(a)]]
    assert upward == []


def test_no_import_cycles(graph):
    # Tarjan's strongly connected components; any component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for _, w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert cycles == []


def test_only_the_ui_room_imports_streamlit():
    offenders = [module_name(p) for p in PACKAGE.rglob("*.py")
                 if room(module_name(p)) != "ui" and any(
                     (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "streamlit" for a in n.names))
                     or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "streamlit")
                     for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    assert offenders == []


def test_modules_stay_short():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_every_room_says_what_lives_there_and_what_it_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 12 and "import" in doc, f"{init}: the room's docstring"


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The walker itself: a planted cycle and a planted upward import are found."""
    pkg = tmp_path / "hallu_core"
    (pkg / "store").mkdir(parents=True)
    (pkg / "views").mkdir()
    for init in (pkg / "__init__.py", pkg / "store" / "__init__.py", pkg / "views" / "__init__.py"):
        init.write_text("")
    (pkg / "store" / "a.py").write_text("def f():\n    from hallu_core.views import b\n")
    (pkg / "views" / "b.py").write_text("from hallu_core.store import a\n")
    files = {module_name(p, pkg): p for p in pkg.rglob("*.py")}
    found = {name: imports(path, set(files), pkg) for name, path in files.items()}
    assert found["hallu_core.store.a"] == [(2, "hallu_core.views.b")]
    assert found["hallu_core.views.b"] == [(1, "hallu_core.store.a")]
    with pytest.raises(AssertionError):
        test_imports_point_down(found)
    with pytest.raises(AssertionError):
        test_no_import_cycles(found)
