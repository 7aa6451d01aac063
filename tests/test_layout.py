"""The code's shape: every function of the package and its plugins fits on a screen, and the
data and metrics subpackages import one way (no circle, function bodies included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ganzoo"
MAX_FUNCTION_LINES = 60  # from the def line to the body's last line, decorators not counted


def _python_files() -> list[Path]:
    plugins = sorted(ROOT.glob("plugins/*/ganzoo_*"))
    return [path for folder in (PACKAGE, *plugins) for path in sorted(folder.rglob("*.py"))]


def test_every_function_fits_on_a_screen():
    too_long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    where = path.relative_to(ROOT)
                    too_long.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere, inside functions too. ``from
    ganzoo.data import images`` imports the submodule, not the package's ``__init__``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found & known


def _circle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if there is one."""
    paths = [[start]]
    seen = set()
    while paths:
        path = paths.pop()
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def test_data_and_metrics_import_one_way():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(modules)) for name, path in modules.items()}
    circles = []
    for name in sorted(modules):
        if name.startswith(("ganzoo.data", "ganzoo.metrics")):
            circle = _circle_from(name, graph)
            if circle:
                circles.append(" -> ".join(circle))
    assert not circles, "import circles:\n" + "\n".join(circles)
