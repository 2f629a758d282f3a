"""The package's shape: imports go one way, and the public API stays what it was."""

from __future__ import annotations

import ast
from pathlib import Path

import halo_gate

PACKAGE = Path(halo_gate.__file__).parent
ENTRY = "halo_gate.gateway.entry"
# Modules that sit above the pipeline and may build a gateway: the package's public API and
# the command line (the demo and ``halo-gate serve``).
ENTRY_USERS = {"halo_gate", "halo_gate.cli.demo", "halo_gate.cli.serve"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, type-only ones too."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in modules else base)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def test_no_module_imports_the_entry_point_but_the_public_api_and_the_cli() -> None:
    users = {name for name, targets in imports().items() if ENTRY in targets}
    assert users <= ENTRY_USERS, users - ENTRY_USERS


def test_the_package_has_no_import_circles() -> None:
    graph = imports()
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name) :] + [name]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            # A package's __init__ re-exports its modules; a module importing its own package's
            # names is the same arrow the other way, so only modules count here.
            if target == name.rpartition(".")[0] and name.startswith(target + "."):
                continue
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_public_api_is_one_sorted_list() -> None:
    assert halo_gate.__all__ == sorted(halo_gate.__all__)
    for name in halo_gate.__all__:
        assert getattr(halo_gate, name) is not None
    assert {"HaloGate", "LicensedUser", "Settings", "ConfigError"} <= set(halo_gate.__all__)
