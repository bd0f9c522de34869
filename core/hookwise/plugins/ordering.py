"""One order per hook: named constraints, tryfirst/trylast and enabled order, resolved together.

Each implementation has a place by default: its group (``tryfirst``, none, ``trylast``) and,
within the group, the order its plugin was enabled in. Named constraints (``before``/``after``:
``@hookimpl(after=["ema"])``, a plugin's ``run_before``/``run_after``) are edges between
implementations; the resolved order keeps every edge and, each time, runs next the
implementation with the earliest default place among those whose constraints are met (a
topological order, Kahn's, by default place). Without constraints the order is exactly the
default one.
Wrappers and plain implementations are ordered separately (a wrapper always wraps every plain
implementation). A constraint naming a plugin that is not enabled is ignored and reported; a
cycle is an :class:`~hookwise.errors.OrderCycleError` naming it.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hookwise.errors import OrderCycleError, PluginValidationError
from hookwise.plugins import files
from hookwise.plugins.discovery import normalize_name

_GROUP_NAMES = ("tryfirst", "", "trylast")


@dataclass
class Node:
    """One implementation as the resolver sees it.

    :param plugin: the plugin's registered name.
    :param group: 0 for ``tryfirst``, 1 for none, 2 for ``trylast``.
    :param seq: the enabled order (smaller: enabled earlier).
    :param before: names of plugins it runs before, each with where the constraint comes from.
    :param after: names of plugins it runs after, likewise.
    :param item: what is being ordered (a ``pluggy.HookImpl``).
    """

    plugin: str
    group: int
    seq: int
    before: list[tuple[str, str]] = field(default_factory=list)
    after: list[tuple[str, str]] = field(default_factory=list)
    item: Any = None
    plugin_object: Any = None


@dataclass
class Resolution:
    """The resolved order of one kind (wrappers or plain implementations); ``reasons()``
    words why each is where it is (only when asked: every call plan resolves an order)."""

    order: list[Node]
    reasons: Callable[[], list[str]]
    ignored: list[str]


def names_of(value: Any, where: str, plugin: Any) -> tuple[str, ...]:
    """A constraint's plugin names: a string or a sequence of strings.

    :raises PluginValidationError: anything else.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PluginValidationError(
        f"{where} must be a plugin name or a list of plugin names, got {value!r}", plugin=plugin
    )


def base_name(plugin: str) -> str:
    """``"evaluator@coco"`` and ``"factory#1"`` -> their plugin's base name, folded."""
    return normalize_name(re.split("[@#]", plugin, maxsplit=1)[0])


def matches(constraint: str, plugin: str) -> bool:
    """Whether ``constraint`` names ``plugin``: an entry-point name folded like pip names (a
    base name covers its instances ``name@x``); a file (``./callbacks.py:GradNorm``, or
    ``./callbacks.py`` for every plugin of it) by its resolved path, as ``-p no:`` compares it;
    an import path ``package.module:Object`` exactly (DESIGN decision 26)."""
    if files.is_file_spec(constraint):
        return files.is_file_spec(plugin) and files.covers(constraint, plugin)
    if ":" in constraint:
        return constraint == plugin
    wanted = normalize_name(constraint)
    return wanted == normalize_name(plugin) or wanted == base_name(plugin)


def _edges(
    nodes: Sequence[Node], enabled: Callable[[str], bool]
) -> tuple[dict[int, set[int]], dict[tuple[int, int], str], list[str]]:
    successors: dict[int, set[int]] = {i: set() for i in range(len(nodes))}
    why: dict[tuple[int, int], str] = {}
    ignored: list[str] = []
    for i, node in enumerate(nodes):
        for kind, constraints in (("before", node.before), ("after", node.after)):
            for name, source in constraints:
                targets = [
                    j
                    for j, other in enumerate(nodes)
                    if j != i and other.plugin != node.plugin and matches(name, other.plugin)
                ]
                if not targets and not enabled(name):
                    ignored.append(f"{node.plugin}: {kind} {name!r} ({source}), not enabled")
                for j in targets:
                    edge = (i, j) if kind == "before" else (j, i)
                    successors[edge[0]].add(edge[1])
                    why.setdefault(edge, f"{node.plugin} {kind} {name!r} ({source})")
    return successors, why, ignored


def _cycle(remaining: set[int], successors: dict[int, set[int]]) -> list[int]:
    """A cycle among ``remaining`` (every node there lies on or leads to one)."""
    start = min(remaining)
    path: list[int] = []
    seen: dict[int, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(j for j in successors[node] if j in remaining)
    return [*path[seen[node] :], node]


def resolve(
    nodes: Sequence[Node], hook: str, enabled: Callable[[str], bool] = lambda name: False
) -> Resolution:
    """Order ``nodes`` (see the module docstring).

    :param enabled: whether a name matches an enabled plugin (one that does not implement
        ``hook`` is no reason to report the constraint).
    :raises OrderCycleError: the constraints form a cycle; the message names it.
    """
    if not any(node.before or node.after for node in nodes):  # the common case: no edges
        plain = sorted(range(len(nodes)), key=lambda i: (nodes[i].group, nodes[i].seq, i))
        return Resolution([nodes[i] for i in plain], lambda: _reasons(nodes, plain, {}), [])
    successors, why, ignored = _edges(nodes, enabled)
    indegree = {i: 0 for i in range(len(nodes))}
    for targets in successors.values():
        for j in targets:
            indegree[j] += 1
    ready = [(nodes[i].group, nodes[i].seq, i) for i, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, _, i = heapq.heappop(ready)
        order.append(i)
        for j in successors[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(ready, (nodes[j].group, nodes[j].seq, j))
    if len(order) < len(nodes):
        cycle = _cycle(set(indegree) - set(order), successors)
        names = " -> ".join(nodes[i].plugin for i in cycle)
        because = "; ".join(why[edge] for edge in itertools.pairwise(cycle))
        raise OrderCycleError(
            f"hook {hook!r}: the order constraints form a cycle: {names} ({because}). Remove one "
            f"of them (a plugin's run_before/run_after, or its @hookimpl(before=/after=)).",
            plugin=nodes[cycle[0]].plugin_object,
        )
    return Resolution([nodes[i] for i in order], lambda: _reasons(nodes, order, why), ignored)


def _reasons(nodes: Sequence[Node], order: list[int], why: dict[tuple[int, int], str]) -> list[str]:
    ranks = {
        i: rank for rank, i in enumerate(sorted(range(len(nodes)), key=lambda i: nodes[i].seq))
    }
    reasons = []
    for i in order:
        parts = [_GROUP_NAMES[nodes[i].group]] if nodes[i].group != 1 else []
        parts.append(f"enabled {_ordinal(ranks[i] + 1)}")
        parts += [text for (a, b), text in why.items() if i in (a, b)]
        reasons.append("; ".join(parts))
    return reasons


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class HookOrder(list[str]):
    """The plugin names a hook calls, in call order (wrappers first, outermost first).

    A ``list`` of names (compares equal to one), with why each is where it is.

    :ivar reasons: one line per position: its group, its place in enabled order and the
        constraints that placed it.
    :ivar wrappers: how many of the names, from the front, are wrappers.
    :ivar ignored: constraints that name a plugin that is not enabled.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        reasons: Sequence[str] | Callable[[], Sequence[str]] = (),
        wrappers: int = 0,
        ignored: Sequence[str] = (),
    ) -> None:
        super().__init__(names)
        self._reasons = reasons  # a function: worded on first use
        self.wrappers = wrappers
        self.ignored = list(ignored)

    @property
    def reasons(self) -> list[str]:
        """One line per position (see the class docstring)."""
        if not isinstance(self._reasons, list):
            found = self._reasons
            self._reasons = list(found() if callable(found) else found)
        return self._reasons

    def explain(self) -> str:
        """The order as text, one plugin per line with its reason, then ignored constraints."""
        lines = [
            f"{i + 1}. {name}{' (wrapper)' if i < self.wrappers else ''}: {reason}"
            for i, (name, reason) in enumerate(zip(self, self.reasons, strict=False))
        ]
        lines += [f"ignored: {text}" for text in self.ignored]
        return "\n".join(lines)
