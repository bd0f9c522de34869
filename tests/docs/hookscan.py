"""Which hooks the test suite exercises, found by reading the test sources (no test is run).

A hook counts as *exercised* by a test module when the module has at least one ``test_...``
function and, somewhere in it:

1. **implements** the hook: a method named after the hook in a class (a ``Callback``
   subclass or any plugin object the tests register), or a function named after the hook
   decorated with ``@hookimpl`` / ``@hookimpl(...)``;
2. **calls** the hook: a call ``<anything>.<hook>(...)``, i.e. ``pm.hook.<hook>(...)`` or a
   direct call of a plugin's hook method, as vis4d-style tests do; or
3. **asserts on its calls**: the hook's name as a string argument of a hook recorder's
   ``assert_called``, ``assert_order``, ``of``, ``values`` or ``results``, or of
   ``caller``/``hook_order`` (``assert_not_called`` does not count: it checks the opposite).

Mentions in comments, docstrings and other strings do not count. Test modules are
``tests/**/test_*.py`` and ``plugins/*/tests/**/test_*.py``, without ``tests/docs`` (these
meta-tests).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

RECORDER_METHODS = (
    "assert_called",
    "assert_order",
    "of",
    "values",
    "results",
    "caller",
    "hook_order",
)


@dataclass
class HookUse:
    """Where a hook is exercised: ``(module, line, how)`` triples."""

    hook: str
    places: list[tuple[str, int, str]] = field(default_factory=list)


def test_modules(root: Path) -> list[Path]:
    """The test modules of the repository at ``root`` (see the module docstring)."""
    found = list((root / "tests").rglob("test_*.py")) + list(
        (root / "plugins").glob("*/tests/**/test_*.py")
    )
    docs = root / "tests" / "docs"
    return sorted(p for p in found if docs not in p.parents)


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _has_tests(tree: ast.Module) -> bool:
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")
        for n in ast.walk(tree)
    )


class _Visitor(ast.NodeVisitor):
    def __init__(self, hooks: frozenset[str]) -> None:
        self.hooks = hooks
        self.found: list[tuple[str, int, str]] = []
        self._class_depth = 0

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._class_depth += 1
        self.generic_visit(node)
        self._class_depth -= 1

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in self.hooks:
            decorated = any(_decorator_name(d) == "hookimpl" for d in node.decorator_list)
            if self._class_depth or decorated:
                self.found.append((node.name, node.lineno, "implements"))
        depth, self._class_depth = self._class_depth, 0  # a def inside a def is not a method
        self.generic_visit(node)
        self._class_depth = depth

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in self.hooks:
                self.found.append((func.attr, node.lineno, "calls"))
            elif func.attr in RECORDER_METHODS:
                for argument in node.args:
                    if isinstance(argument, ast.Constant) and argument.value in self.hooks:
                        self.found.append((str(argument.value), node.lineno, "asserts"))
        self.generic_visit(node)


def scan_source(
    source: str, hooks: Iterable[str], filename: str = "<test>"
) -> list[tuple[str, int, str]]:
    """``(hook, line, how)`` for every use of a hook in one test module's source (nothing
    when the module has no test function)."""
    tree = ast.parse(source, filename)
    if not _has_tests(tree):
        return []
    visitor = _Visitor(frozenset(hooks))
    visitor.visit(tree)
    return visitor.found


def scan(root: Path, hooks: Iterable[str]) -> dict[str, HookUse]:
    """For each hook, where the test modules under ``root`` exercise it."""
    names = list(hooks)
    uses = {hook: HookUse(hook) for hook in names}
    for module in test_modules(root):
        relative = module.relative_to(root).as_posix()
        for hook, line, how in scan_source(module.read_text(encoding="utf-8"), names, relative):
            uses[hook].places.append((relative, line, how))
    return uses


__all__ = ["RECORDER_METHODS", "HookUse", "scan", "scan_source", "test_modules"]
