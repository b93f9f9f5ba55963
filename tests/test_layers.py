"""The package's layers: each module imports only from its own layer or the ones below it, and every
exception the package defines derives from the one root in `ameyo_mcp.errors`."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import ameyo_mcp
from ameyo_mcp.errors import AmeyoMcpError

PACKAGE = Path(ameyo_mcp.__file__).parent

# Lowest first. A module may import from its own layer and any layer below it, never above.
LAYERS: dict[str, int] = {
    "errors": 0,
    "rules": 0,
    "config": 1,
    "logs": 1,
    "health": 1,
    "listener": 1,
    "store": 2,
    "ameyo": 3,
    "simulator": 4,
    "answers": 4,
    "index": 5,
    "receiver": 5,
    "writes": 6,
    "server": 7,
    "cli": 8,
    "__main__": 9,
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module of the package that `name` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module or "").split(".")] if node.module else base
            elif node.module and (node.module == "ameyo_mcp" or node.module.startswith("ameyo_mcp.")):
                target = node.module.split(".")[1:]
            else:
                continue
            found.add(".".join(target))
            found.update(".".join([*target, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                ".".join(alias.name.split(".")[1:])
                for alias in node.names
                if alias.name.startswith("ameyo_mcp.")
            )
    return {module for module in found if module}


def _layer(module: str) -> int | None:
    return LAYERS.get(module.split(".")[0])


def test_every_top_level_module_and_package_has_a_layer() -> None:
    top = {name.split(".")[0] for name, _ in _modules() if name}
    assert top - set(LAYERS) == set(), "add the new module or package to LAYERS"
    loose = [p.name for p in PACKAGE.glob("*.py")]
    assert len(loose) <= 10, loose


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    known = {name for name, _ in _modules()}
    upward = []
    for name, path in _modules():
        if not name:
            continue
        for target in _imports(name, path):
            if target not in known:
                continue  # a name imported from a module, counted through its module
            if (_layer(target) or 0) > (_layer(name) or 0):
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_packages_of_one_layer_do_not_import_each_other_in_a_circle() -> None:
    known = {name for name, _ in _modules()}
    edges: set[tuple[str, str]] = set()
    for name, path in _modules():
        for target in _imports(name, path):
            if target in known and name and target.split(".")[0] != name.split(".")[0]:
                edges.add((name.split(".")[0], target.split(".")[0]))
    assert [(a, b) for a, b in edges if (b, a) in edges] == []


def test_modules_of_one_package_do_not_import_each_other_in_a_circle() -> None:
    known = {name for name, _ in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in _modules():
        graph[name] = {t for t in _imports(name, path) if t in known and t != name}
    circles = [(a, b) for a, targets in graph.items() for b in targets if a in graph.get(b, set())]
    # A package's __init__ re-exporting its modules is not a circle of logic.
    circles = [(a, b) for a, b in circles if not (b.startswith(a + ".") or a.startswith(b + "."))]
    assert circles == []


def test_every_exception_class_of_the_package_derives_from_the_root() -> None:
    strays = []
    for info in pkgutil.walk_packages(ameyo_mcp.__path__, "ameyo_mcp."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == info.name
                and issubclass(cls, BaseException)
                and not issubclass(cls, AmeyoMcpError)
            ):
                strays.append(f"{info.name}.{cls.__name__}")
    assert strays == []
