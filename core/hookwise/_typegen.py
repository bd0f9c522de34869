"""Writes :mod:`hookwise.hooks` (typed hook markers) from the hook specifications.

``hookwise/hookspecs.py`` is the single source of every hook's arguments and return type; this
generator reads it (signatures through :mod:`inspect`, the names the annotations use through
:mod:`ast`) and writes ``hookwise/hooks.py``. Regenerate after changing a hookspec::

    python -m hookwise._typegen          # rewrite hooks.py
    python -m hookwise._typegen --check  # exit 1 when hooks.py is out of date

What is generated, per hook (``on_train_batch_end`` here):

- ``OnTrainBatchEnd``: a ``Protocol`` of the full signature, to annotate a variable or a
  parameter holding an implementation;
- ``on_train_batch_end``: a marker. At run time it is a :class:`~hookwise._hook_marker.HookMarker`;
  for a type checker it is an object whose ``__call__`` takes a function whose type is bound
  by the union of one ``Protocol`` per subset of the hook's arguments (pluggy passes an
  implementation only the arguments it names, in any order; the protocols' arguments are
  keyword-only, so the function's parameter order is free), for functions and for methods
  (a ``self`` parameter first). A function whose parameters are not arguments of the hook, or
  whose annotations or return type do not fit, fits none: mypy says so in one line ("Value of
  type variable "_OnTrainBatchEndImpl" ... cannot be ...").
  A union bound rather than overloads: mypy lists every overload of a failed call.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import sys
import textwrap
from pathlib import Path

from hookwise import hookspecs
from hookwise._hook_marker import MARKER_OPTIONS

#: The generated module.
TARGET = Path(__file__).with_name("hooks.py")

_OPTION_TYPES = {
    "tryfirst": "bool",
    "trylast": "bool",
    "before": "Iterable[str] | str",
    "after": "Iterable[str] | str",
    "every_n_steps": "int | str | None",
    "every_n_epochs": "int | str | None",
    "on_ranks": "str | int | Iterable[int] | None",
    "stages": "Iterable[str] | str | None",
}

_HEADER = '''\
# ruff: noqa: E501
# pyright: reportSelfClsParameterName=false
"""Typed hook markers: ``@hooks.<hook>`` checks an implementation's signature in mypy and pyright.

GENERATED from ``hookwise/hookspecs.py`` by ``python -m hookwise._typegen``: do not edit by
hand; regenerate after changing a hook specification (a test fails while this file is out of
date).

``@hooks.on_train_batch_end`` marks a function as an implementation of that hook, as
``@hookimpl(specname="on_train_batch_end")`` does (so the function's name is free), and tells
a type checker which arguments it may take: any of the hook's arguments, by name, in any order
(pluggy passes only those a function names), with annotations the hook's values fit, and a
return type the hook accepts. ``.options(...)`` takes ``@hookimpl``'s options (``tryfirst``,
``trylast``, ``before``, ``after``, ``every_n_steps``, ``every_n_epochs``, ``on_ranks``,
``stages``)::

    from hookwise import TrainerState, hooks

    @hooks.on_train_batch_end.options(every_n_steps=50)
    def log_step(trainer_state: TrainerState, batch_idx: int) -> dict[str, float]:
        return {"step": float(trainer_state["global_step"])}

Methods of a plain class work the same way (``self`` first). A ``hookwise.Callback`` subclass
needs no marker: its overriding methods are checked against the typed base class. Wrappers
(``@hookimpl(wrapper=True)``) are generators and are not typed here.

Each hook also has a ``Protocol`` of its full signature (``OnTrainBatchEnd``), for annotating
a variable or parameter that holds an implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hookwise._hook_marker import HookMarker

if TYPE_CHECKING:
{imports}
'''


def _camel(hook: str) -> str:
    return "".join(part.capitalize() for part in hook.split("_"))


def _annotation_names(annotation: str) -> set[str]:
    """The top-level names an annotation string uses (``nn`` for ``nn.Module``)."""
    tree = ast.parse(annotation, mode="eval")
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _spec_bindings() -> dict[str, tuple[str, str]]:
    """Where each name ``hookspecs`` uses in annotations comes from: ``(module, name)`` of an
    import statement, or ``hookwise.hookspecs`` itself for a name it defines."""
    tree = ast.parse(Path(inspect.getfile(hookspecs)).read_text(encoding="utf-8"))
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = ("hookwise.hookspecs", target.id)
    return found


def hook_signature(hook: str) -> tuple[list[tuple[str, str]], str]:
    """``([(argument, annotation), ...], return annotation)`` of ``hook``'s specification."""
    signature = inspect.signature(getattr(hookspecs, hook))
    params = [(p.name, str(p.annotation)) for p in signature.parameters.values()]
    return params, str(signature.return_annotation)


def _imports(hooks: tuple[str, ...]) -> str:
    """The ``if TYPE_CHECKING:`` imports of the names the hooks' annotations use, grouped and
    sorted as ruff's isort rules want them (standard library, third party, hookwise)."""
    bindings = _spec_bindings()
    wanted: set[str] = set()
    for hook in hooks:
        params, returns = hook_signature(hook)
        for annotation in [a for _, a in params] + [returns]:
            wanted |= _annotation_names(annotation)
    wanted -= {"None", "Any", "bool", "int", "float", "str", "dict", "list", "BaseException"}
    missing = sorted(wanted - set(bindings))
    if missing:
        raise RuntimeError(f"hookspecs annotations use names without an import: {missing}")
    modules: dict[str, set[str]] = {"collections.abc": {"Iterable"}}
    for name in wanted:
        module, attribute = bindings[name]
        modules.setdefault(module, set()).add(attribute)

    def group(module: str) -> int:
        top = module.partition(".")[0]
        return 0 if top in sys.stdlib_module_names else 2 if top == "hookwise" else 1

    blocks: list[list[str]] = [[], [], []]
    for module in sorted(modules):
        names = ", ".join(sorted(modules[module]))
        blocks[group(module)].append(f"    from {module} import {names}")
    return "\n\n".join("\n".join(lines) for lines in blocks if lines)


def _docstring(hook: str, indent: str) -> str:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or hook
    body = f"Marks an implementation of :func:`hookwise.hookspecs.{hook}`.\n\n{doc}"
    text = textwrap.indent(body.replace("\\", "\\\\"), indent)
    return f'{indent}"""{text.lstrip()}\n{indent}"""\n'


def _protocol(name: str, params: list[tuple[str, str]], returns: str, *, method: bool) -> str:
    keyword = ", ".join(f"{arg}: {annotation}" for arg, annotation in params)
    head = "_, self: Any" if method else "_"
    args = f"{head}, *, {keyword}" if keyword else head
    return f"class {name}(Protocol):\n    def __call__({args}) -> {returns}: ...\n"


def _hook_section(hook: str) -> str:
    params, returns = hook_signature(hook)
    camel = _camel(hook)
    subsets = [
        list(combo)
        for size in range(len(params) + 1)
        for combo in itertools.combinations(params, size)
    ]
    full = ", ".join(f"{arg}: {annotation}" for arg, annotation in params)
    out = [
        "\n\n# " + "-" * 92 + f"\n# {hook}\n\n\n",
        f"class {camel}(Protocol):\n",
        f'    """The full signature of :func:`hookwise.hookspecs.{hook}`."""\n\n',
        f"    def __call__(self{', ' if full else ''}{full}) -> {returns}: ...\n",
        "\n\nif TYPE_CHECKING:\n",
    ]
    variants: list[str] = []
    for kind in ("M", "F"):
        for index, subset in enumerate(subsets):
            name = f"_{camel}{kind}{index}"
            protocol = _protocol(name, subset, returns, method=kind == "M")
            out.append(textwrap.indent(protocol, "    "))
            variants.append(name)
    impl = f"_{camel}Impl"
    out.append(f'\n    {impl} = TypeVar(\n        "{impl}",\n        bound=(\n')
    out += [f"            {'| ' if i else ''}{name}\n" for i, name in enumerate(variants)]
    out.append("        ),\n    )\n")
    options = ", ".join(f"{o}: {_OPTION_TYPES[o]} = ..." for o in MARKER_OPTIONS)
    out.append(f"\n    class _{camel}Marker:\n")
    out.append(_docstring(hook, " " * 8))
    out.append(f"\n        def options(self, *, {options}) -> _{camel}Marker: ...\n")
    out.append(f"        def __call__(self, function: {impl}, /) -> {impl}: ...\n")
    out.append(f'\n    {hook}: _{camel}Marker\nelse:\n    {hook} = HookMarker("{hook}")\n')
    return "".join(out)


def generate() -> str:
    """The text of ``hookwise/hooks.py`` for the current hook specifications."""
    hooks = hookspecs.HOOK_NAMES
    text = _HEADER.replace("{imports}", _imports(hooks))
    text += "".join(_hook_section(hook) for hook in hooks)
    names = sorted([*(_camel(h) for h in hooks), *hooks], key=str.lower)
    text += "\n\n__all__ = [\n" + "".join(f'    "{name}",\n' for name in names) + "]\n"
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m hookwise._typegen [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m hookwise._typegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if hooks.py is out of date")
    args = parser.parse_args(argv)
    text = generate()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET} is out of date: run python -m hookwise._typegen", file=sys.stderr)
            return 1
        print(f"{TARGET} is up to date")
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    else:
        print(f"{TARGET} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
