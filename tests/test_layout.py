"""The code's shape: every function of the package and its plugins fits on a screen; each module
belongs to one layer, imports only from its own layer or the layers below (function bodies
included), and no imports run in a circle; docs/architecture.md draws the same layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ganzoo"
MAX_FUNCTION_LINES = 60  # from the def line to the body's last line, decorators not counted

# The layers, lowest first: a module may import from its own layer and the ones before it. A name
# covers a module and, for a package, everything in it. docs/architecture.md draws this order.
LAYERS = {
    "core": [
        "ganzoo.errors",
        "ganzoo.version",
        "ganzoo.devices",
        "ganzoo.registry",
        "ganzoo.builtins",
        "ganzoo.components",
        "ganzoo.augment",
        "ganzoo.optim",
        "ganzoo.patchnce",
        "ganzoo.validate",
        "ganzoo.recipes",
        "ganzoo.models",
        "ganzoo.zoo",
    ],
    "io": ["ganzoo.io"],
    "data": ["ganzoo.data"],
    "metrics": ["ganzoo.metrics"],
    "hub": ["ganzoo.hub"],
    "training": ["ganzoo.training"],
    "api": ["ganzoo", "ganzoo.evaluate"],  # ganzoo.create, ganzoo.load, ganzoo.evaluate
    "cli": ["ganzoo.cli"],
}
MAX_TOP_LEVEL_MODULES = 15  # besides __init__.py and the subpackages


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


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def _layer_of(module: str) -> int | None:
    """The index in LAYERS of the layer that holds ``module``: the longest name that covers it
    wins, so ``ganzoo.hub.push`` is in "hub" and ``ganzoo`` itself in "api"."""
    best = None
    for index, names in enumerate(LAYERS.values()):
        for name in names:
            covers = module == name or (name != "ganzoo" and module.startswith(name + "."))
            if covers and (best is None or len(name) > len(best[1])):
                best = (index, name)
    return best[0] if best else None


def test_every_module_has_a_layer():
    homeless = [name for name in sorted(_graph()) if _layer_of(name) is None]
    assert not homeless, "modules in no layer of LAYERS:\n" + "\n".join(homeless)


def test_imports_run_downward_only():
    names = list(LAYERS)
    upward = []
    for module, imported in sorted(_graph().items()):
        for other in sorted(imported):
            if _layer_of(other) > _layer_of(module):
                upward.append(
                    f"{module} ({names[_layer_of(module)]}) imports "
                    f"{other} ({names[_layer_of(other)]})"
                )
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_circle():
    graph = _graph()
    circles = [_circle_from(name, graph) for name in sorted(graph)]
    found = [" -> ".join(circle) for circle in circles if circle]
    assert not found, "import circles:\n" + "\n".join(found)


def test_top_level_holds_few_modules():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def test_the_drawing_shows_the_layers():
    """docs/architecture.md draws the layers top down, one row per layer starting with its
    name, and names every module or package of the layer in its rows."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawing = text.split("```")[1]
    rows: dict[str, str] = {}
    current = None
    for line in drawing.splitlines():
        word = line.split()[0] if line.split() else ""
        if line.startswith(" ") and not line.startswith("  ") and word in LAYERS:
            current = word
            rows[current] = ""
        if current is not None:
            rows[current] += line + "\n"
    assert list(rows) == list(reversed(LAYERS)), "the drawing's layers, top down"
    for layer, names in LAYERS.items():
        for name in names:
            short = "ganzoo/__init__.py" if name == "ganzoo" else name.rpartition(".")[2]
            assert short in rows[layer], f"{name} is not drawn in the {layer} layer"
