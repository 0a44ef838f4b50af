"""The package's imports point down the layers of docs/architecture.md, and no two packages import each other.

Every import counts, function-local ones included: a cycle held apart by a late import is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "slmconvert"

# Top to bottom; a module may import its own layer's packages (without cycles) and any lower layer.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"cli", "__main__"}),
    frozenset({"pipeline"}),
    frozenset({"serve"}),
    frozenset({"stages"}),
    frozenset({"collect", "curate", "cluster", "select", "finetune", "iterate", "router", "report"}),
    frozenset({"evaluation", "models", "artifacts", "engine"}),
    frozenset({"util", "errors", "params", "workspace", "config", "__init__"}),
)


def layer_of(unit: str) -> int:
    for index, members in enumerate(LAYERS):
        if unit in members:
            return index
    raise AssertionError(f"slmconvert.{unit} is in no layer: add it to LAYERS and docs/architecture.md")


def unit_of(path: Path) -> str:
    """The top-level package or module a file belongs to (slmconvert/curate/x.py -> curate)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_units(path: Path) -> set[str]:
    """Top-level slmconvert units a file imports, anywhere in the file."""
    found: set[str] = set()
    package = ".".join(("slmconvert", *path.relative_to(PACKAGE).parent.parts))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] + ([f"{module}.{a.name}" for a in node.names] if module == "slmconvert" else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "slmconvert" and len(parts) > 1:
                found.add(parts[1] if _is_unit(parts[1]) else "__init__")
    return found


def _is_unit(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of(path)
        graph.setdefault(unit, set()).update(u for u in imported_units(path) if u != unit)
    return graph


def test_every_import_points_down():
    upward = sorted(f"slmconvert.{a} imports slmconvert.{b}"
                    for a, targets in import_graph().items() for b in targets if layer_of(b) < layer_of(a))
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def test_no_two_packages_import_each_other():
    graph = import_graph()
    reach = {unit: reachable(graph, unit) for unit in graph}
    cycles = sorted(f"{a} <-> {b}" for a in graph for b in reach[a] if a < b and a in reach.get(b, ()))
    assert not cycles, "packages that import each other (directly or through others):\n" + "\n".join(cycles)


def test_the_checker_sees_a_late_upward_import(tmp_path):
    """The walk must find imports inside functions, or a cycle held apart by a late import slips through."""
    module = PACKAGE / "stages" / "finetune.py"
    tree_units = imported_units(module)
    assert "finetune" in tree_units  # `from slmconvert.finetune.run import ...` inside run()
