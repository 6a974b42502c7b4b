"""The layout a newcomer reads: no import cycle among the project's modules, and the package
never imports the root script or the top-level re-export folders.

The import graph is read from the source (``ast``), counting every import, also those inside
functions (a cycle hidden in a function is still a cycle), but not those under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The project's own top-level names: the package, the re-export folders and the root script.
OWN = ("pathway", "workflows", "activities", "worker")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    files = [
        *ROOT.joinpath("pathway").rglob("*.py"),
        *ROOT.joinpath("workflows").rglob("*.py"),
        *ROOT.joinpath("activities").rglob("*.py"),
        ROOT / "worker.py",
    ]
    return {module_name(f): f for f in files}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def imported(
    name: str, source: str, modules: dict[str, Path], *, is_package: bool = False
) -> set[str]:
    """The project modules that module ``name`` (whose text is ``source``) imports."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            # The longest project module the dotted name starts with (a name imported from a
            # module is not a module of its own).
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: imported(name, path.read_text(), modules, is_package=path.name == "__init__.py")
        for name, path in modules.items()
    }


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Tarjan: the modules above ``root`` on the stack, ``root`` included, taken off it."""
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = _pop_component(stack, on_stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


class TestImportGraph:
    def test_no_import_cycle(self) -> None:
        """No two modules of the project import each other, directly or through others."""
        assert cycles(graph()) == []

    def test_the_package_never_imports_the_root_script_or_the_folders(self) -> None:
        """``pathway`` imports neither ``worker.py`` nor the top-level ``workflows`` and
        ``activities`` folders: the installed package stands on its own."""
        assert {"worker", "workflows", "activities"} <= set(graph())  # they are looked at
        wrong = {
            name: sorted(t for t in targets if t.split(".")[0] != "pathway")
            for name, targets in graph().items()
            if name.startswith("pathway")
        }
        assert {name: targets for name, targets in wrong.items() if targets} == {}

    def test_the_checks_can_fail(self) -> None:
        """A planted cycle is found, and a planted import of the root script is seen."""
        assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
        modules = {"pathway.x": ROOT / "x.py", "worker": ROOT / "worker.py"}
        assert imported("pathway.x", "def f():\n    import worker\n", modules) == {"worker"}
