"""Which package may import which: the contract stands alone, the collector and the detectors never reach
into the agent or the simulator, and the agent never into the collector side.

Every import counts: module level, deferred inside functions, under ``if TYPE_CHECKING:``, relative
ones, and ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SENSOR_LIBRARIES = ("psutil", "pynput", "mss", "watchdog", "Xlib")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "contract": ("agent", "collector", "detectors", "simulator", *SENSOR_LIBRARIES),
    "collector": ("agent", "simulator"),
    "detectors": ("agent", "simulator"),
    "agent": ("collector", "detectors", "simulator"),
}


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (the module ``module``, by default the one
    its place in the tree gives), wherever the import sits in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (module or _module_of(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:  # from agent import sensors
                yield node.lineno, f"{name}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path):
            top = name.split(".", 1)[0]
            if top in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_their_boundary(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists()
    assert violations(package) == []


def test_the_scan_sees_deferred_type_checking_relative_and_dynamic_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from agent.sensors.policy import AgentPolicy\n"
        "def late():\n    import psutil\n    from simulator import fleet\n"
        "from ...agent import config\n"
        "import importlib\nimportlib.import_module('agent.cli')\n__import__('watchdog.events')\n",
        encoding="utf-8")
    found = {n for _l, n in imports(probe, "collector.web.probe")}
    assert {"agent.sensors.policy", "psutil", "simulator.fleet", "agent.config", "agent.cli",
            "watchdog.events"} <= found
