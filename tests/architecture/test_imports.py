"""The layout's rules, checked on the source: no import cycles anywhere in ``src/``, the base
(``convene.core``) knows no integration and no demo data, and inside ``convene.outlook`` each
sub-package imports only the ones below it (docs/architecture.md draws the picture).

Every import that runs counts, also one inside a function: an import put off until call time
is still a dependency, and hiding a cycle that way is what this test is for. Imports for type
annotations only (``if TYPE_CHECKING:``) do not run, and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGES = ("convene", "m365_emulator")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (SRC / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = modules()


def imported(name: str, path: Path) -> Iterator[str]:
    """The project's modules that module ``name`` imports (a name imported from a package is
    the submodule when there is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: sorted(set(imported(name, path))) for name, path in MODULES.items()}


def cycle_through(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if any."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_import_graph_is_read() -> None:
    # Guards the test itself: a broken reader would find no cycle anywhere.
    assert "convene.outlook.outbound.push" in GRAPH["convene.outlook.tasks"]
    assert "convene.outlook.microsoft.errors" in GRAPH["convene.outlook.microsoft.graph"]


CYCLE_FREE = PACKAGES


@pytest.mark.parametrize("package", CYCLE_FREE)
def test_no_module_is_part_of_an_import_cycle(package: str) -> None:
    cycles = {
        " -> ".join(c)
        for name in GRAPH
        if name.split(".")[0] == package and (c := cycle_through(name))
    }
    assert not cycles, "\n".join(sorted(cycles))


def reachable(start: str) -> set[str]:
    found, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return found


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if n.startswith("convene.core")))
def test_core_imports_no_integration_and_no_demo_data(name: str) -> None:
    forbidden = {
        n
        for n in reachable(name)
        if n.startswith(("convene.outlook", "convene.events.demo", "m365_emulator"))
    }
    assert not forbidden, f"{name} reaches {sorted(forbidden)}"


# Inside the Outlook integration, from the bottom up: each may import those before it (and its
# own). What is not listed wires the rest together and may import anything: the pages (web/),
# the webhook's two entry points, apps, the management command, emulator_setup.
LAYERS = [
    "microsoft",
    "models|leases",
    "links|mailboxes|answers",
    "outbound",
    "services|rooms",
    "inbound",
    "moves",
    "tasks",
]
ENTRY_POINTS = {"convene.outlook.inbound.webhook", "convene.outlook.inbound.webhook_asgi"}


def layer(name: str) -> int | None:
    if name in ENTRY_POINTS:
        return None
    part = name.removeprefix("convene.outlook.").split(".")[0]
    for number, names in enumerate(LAYERS):
        if part in names.split("|"):
            return number
    return None


@pytest.mark.parametrize(
    "name", sorted(n for n in GRAPH if n.startswith("convene.outlook.") and layer(n) is not None)
)
def test_outlook_packages_import_only_those_below_them(name: str) -> None:
    own = layer(name)
    assert own is not None
    above = [
        n
        for n in GRAPH[name]
        if n.startswith("convene.outlook.") and ((theirs := layer(n)) is None or theirs > own)
    ]
    assert not above, f"{name} imports {above}, above it"
