"""The plugin module, the tests and the README ``hookwise new-plugin`` writes, from the hooks'
recipes (:mod:`hookwise.scaffold.recipes`).

Each hook method has the signature of the ``hookwise.Callback`` method it overrides (so a type
checker checks it against the hook), a docstring and the recipe's body.
"""

from __future__ import annotations

import inspect
import re
import textwrap

from hookwise.callback import Callback
from hookwise.scaffold.recipes import RECIPES, Recipe

#: Where the names used in ``Callback``'s annotations are imported from.
_ANNOTATION_IMPORTS = {
    "Any": "from typing import Any",
    "Mapping": "from collections.abc import Mapping",
    "nn": "from torch import nn",
    "Optimizer": "from torch.optim import Optimizer",
    "DictData": "from hookwise.connectors import DictData",
    "MetricLogs": "from hookwise.hookspecs import MetricLogs",
    "TrainerState": "from hookwise import TrainerState",
}


def _named(text: str, name: str) -> str:
    return re.sub(r"\bNAME\b", name, text)


def _sort_imports(lines: set[str]) -> str:
    """Standard library first, then the rest, each with ``import x`` before ``from x``."""

    def key(line: str) -> tuple[int, int, str]:
        module = line.split()[1].partition(".")[0]
        stdlib = module in ("collections", "typing", "math")
        return (0 if stdlib else 1, 0 if line.startswith("import ") else 1, line.split()[1])

    ordered = sorted(lines, key=key)
    groups: list[list[str]] = [[], []]
    for line in ordered:
        groups[key(line)[0]].append(line)
    return "\n\n".join("\n".join(g) for g in groups if g)


def method_signature(hook: str) -> tuple[str, set[str]]:
    """``(def line, names its annotations use)`` of ``Callback``'s method for ``hook``."""
    signature = inspect.signature(getattr(Callback, hook))
    used: set[str] = set()
    for annotation in [p.annotation for p in signature.parameters.values()] + [
        signature.return_annotation
    ]:
        if isinstance(annotation, str):
            used |= set(re.findall(r"[A-Za-z_]\w*", annotation)) & set(_ANNOTATION_IMPORTS)
    params = []
    for param in signature.parameters.values():
        text = param.name if param.name == "self" else f"{param.name}: {param.annotation}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        params.append(text)
    line = f"    def {hook}({', '.join(params)}) -> {signature.return_annotation}:"
    if len(line) <= 100:
        return line, used
    head = f"    def {hook}(\n" + "".join(f"        {p},\n" for p in params)
    return head + f"    ) -> {signature.return_annotation}:", used


def _bullets(recipes: list[Recipe], name: str, indent: str = "") -> str:
    """One wrapped ``- ``hook``: summary`` line per recipe."""
    lines = [
        textwrap.fill(
            f"- ``{r.hook}``: {_named(r.summary, name)}",
            100,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
        )
        for r in recipes
    ]
    return "\n".join(lines) + "\n"


def render_plugin(names: dict[str, str], hooks: list[str]) -> str:
    """The plugin module (``src/<package>/__init__.py``)."""
    recipes = [RECIPES[h] for h in hooks]
    name = names["name"]
    imports = {"from hookwise import Callback, CallbackConnector", "from typing import Any"}
    imports.add("from collections.abc import Mapping")
    methods = []
    for recipe in recipes:
        head, used = method_signature(recipe.hook)
        imports |= {_ANNOTATION_IMPORTS[u] for u in used} | set(recipe.imports)
        summary = _named(recipe.summary, name)
        doc = f'        """{summary[0].upper()}{summary[1:]}"""'
        body = textwrap.indent(_named(recipe.body, name), " " * 8)
        methods.append(f"{head}\n{doc}\n{body}\n")
    if any(r.connector for r in recipes):
        imports.add("from hookwise import pred_key")
    imports = _merge_from_imports(imports)
    return _module_text(names, recipes, imports, methods)


def _merge_from_imports(lines: set[str]) -> set[str]:
    merged: dict[str, set[str]] = {}
    plain = set()
    for line in lines:
        if line.startswith("from "):
            module, _, names = line[5:].partition(" import ")
            merged.setdefault(module, set()).update(n.strip() for n in names.split(","))
        else:
            plain.add(line)
    return plain | {f"from {m} import {', '.join(sorted(n))}" for m, n in merged.items()}


def _module_text(
    names: dict[str, str], recipes: list[Recipe], imports: set[str], methods: list[str]
) -> str:
    name, cls = names["name"], names["class_name"]
    params = [p for r in recipes for p in r.params]
    summary = _bullets(recipes, name)
    param_docs = "".join(f"    :param {p.name}: {p.doc}.\n" for p in params)
    connector = any(r.connector for r in recipes)
    test_doc = (
        "selects ``logits`` for ``on_test_batch_end`` (default\n"
        '        ``{logits = {pred = "logits"}}``).'
        if connector
        else "unused."
    )
    args = "".join(f"        {p.name}: {p.annotation} = {p.default},\n" for p in params)
    setup = "".join(f"        self.{p.name} = {p.name}\n" for p in params)
    setup += "".join(f"        {line}\n" for r in recipes for line in r.init)
    default_connector = (
        '        if test_connector is None:\n            test_connector = {"logits": '
        'pred_key("logits")}\n'
        if connector
        else ""
    )
    state_methods = _state_methods([s for r in recipes for s in r.state])
    return (
        f'''"""{names["distribution"]}: a hookwise plugin, enabled by the name ``{name}``.

{summary}
Enable it with ``hookwise fit -p {name}`` or ``[plugins.{name}]`` in a config.
"""

from __future__ import annotations

{_sort_imports(imports)}

__all__ = ["{cls}"]


class {cls}(Callback):
    """{names["title"]}: a hookwise plugin.

{_bullets(recipes, name, "    ")}
{param_docs}    :param epoch_based: accepted as in vis4d.
    :param train_connector: unused.
    :param test_connector: {test_doc}
    """

    def __init__(
        self,
{args}        epoch_based: bool = True,
        train_connector: CallbackConnector | Mapping[str, Any] | None = None,
        test_connector: CallbackConnector | Mapping[str, Any] | None = None,
    ) -> None:
{default_connector}        super().__init__(epoch_based, train_connector, test_connector)
{setup}
'''
        + "\n".join(methods)
        + state_methods
    )


def _state_methods(state: list[str]) -> str:
    """``state_dict`` and ``load_state_dict`` for these attributes (none: the base class's)."""
    if not state:
        return ""
    items = "\n" + "".join(f'            "{s}": self.{s},\n' for s in state) + "        "
    loads = "".join(f'        self.{s} = state_dict["{s}"]\n' for s in state)
    return (
        "\n    def state_dict(self) -> dict[str, Any]:\n"
        '        """What a checkpoint keeps of this plugin."""\n'
        f"        return {{{items}}}\n\n"
        "    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:\n"
        '        """Restore what :meth:`state_dict` returned."""\n'
        f"{loads}"
    )


def render_tests(names: dict[str, str], hooks: list[str]) -> str:
    """The tests (``tests/test_<name>.py``), which pass unchanged once the plugin is installed."""
    recipes = [RECIPES[h] for h in hooks]
    blocks = []
    for recipe in recipes:
        if recipe.hook == "on_exception":
            continue
        called = f'result.calls.assert_called("{recipe.hook}", plugin=NAME)\n'
        body = textwrap.indent(called + recipe.test, "    ")
        blocks.append(f"def test_{recipe.hook}(result, plugin):\n{body}\n")
    if "on_exception" in hooks:
        blocks.append(_exception_test(names))
    uses = "\n".join(blocks)
    imports = {"import pytest"}
    if "torch." in uses:
        imports.add("import torch")
    if "hookimpl" in uses:
        imports.add("from hookwise import hookimpl")
    if names["class_name"] in uses:
        imports.add(f"from {names['package']} import {names['class_name']}")
    plugin = names["name"]
    return f'''"""Tests of the ``{plugin}`` plugin, with hookwise's pytest fixtures (``run_fit``,
``assert_plugin_valid``), which come with hookwise. Run them with ``python -m pytest tests``
once the plugin is installed (``pip install -e .``).
"""

from __future__ import annotations

{_sort_imports(imports)}

NAME = "{names["name"]}"


def test_plugin_is_valid(assert_plugin_valid):
    # The entry point loads, its hooks match hookwise's, its parameters are documented and
    # its state survives a checkpoint round trip.
    assert_plugin_valid(NAME)


@pytest.fixture
def result(run_fit):
    """A real fit of a tiny model: 2 epochs of 3 batches, each validated, then a test."""
    return run_fit([NAME], epochs=2, batches=3)


@pytest.fixture
def plugin(result):
    return result.pm.get_plugin(NAME)


''' + "\n\n".join(blocks)


def _exception_test(names: dict[str, str]) -> str:
    cls = names["class_name"]
    return f"""def test_on_exception(run_fit):
    class Boom:
        @hookimpl
        def on_train_batch_end(self):
            raise RuntimeError("boom")

    plugin = {cls}()
    with pytest.raises(RuntimeError, match="boom"):
        run_fit([plugin, Boom()], epochs=1)
    assert plugin.failures == ["RuntimeError: boom"]
"""


def render_readme(names: dict[str, str], hooks: list[str]) -> str:
    """The README: how to install, enable and test it; its parameters and hooks."""
    recipes = [RECIPES[h] for h in hooks]
    name = names["name"]
    rows = "".join(f"| `{p.name}` | `{p.default}` | {p.doc} |\n" for r in recipes for p in r.params)
    hook_lines = "".join(f"- `{r.hook}`: {_named(r.summary, name)}\n" for r in recipes)
    state = [s for r in recipes for s in r.state]
    kept = (
        f"Its state ({', '.join(f'`{s}`' for s in state)}) is saved in every checkpoint."
        if state
        else "It keeps no state in checkpoints."
    )
    return f"""# {names["distribution"]}

A hookwise plugin, enabled by the name `{name}`.

```bash
pip install -e .                 # then `hookwise plugins` lists "{name}"
hookwise fit -p {name}
python -m pytest tests           # its tests, with hookwise's pytest fixtures
```

In a config:

```toml
[plugins.{name}]
on_error = "raise"
```

## Parameters

| Parameter | Default | Meaning |
|-----------|---------|---------|
{rows}| `epoch_based` | `true` | accepted as in vis4d |
| `on_error` | `"raise"` | hookwise's error policy: `raise`, `warn` or `disable` |

## Hooks used

{hook_lines}
{kept}
"""


__all__ = ["method_signature", "render_plugin", "render_readme", "render_tests"]
