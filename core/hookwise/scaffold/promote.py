"""``hookwise new-plugin --from ./callbacks.py:GradNorm``: a local plugin made a distribution.

The object's source is moved into ``src/hookwise_<name>/__init__.py`` with what it needs from
its file (the imports and module-level helpers it uses, found with :mod:`ast`; nothing else of
the file), beside a ``pyproject.toml`` declaring the entry point, a README and a test that
enables it by name (with the parameters given after the object, as in ``-p``:
``--from ./callbacks.py:GradNorm:every=2``) and checks it with ``assert_plugin_valid``. The
local file is not changed: the command says what to change once the distribution is installed.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

from hookwise.errors import ConfigError


def snake(name: str) -> str:
    """``GradNorm`` -> ``grad_norm``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [a.asname or a.name for a in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def extract(text: str, obj: str, where: str) -> str:
    """The source of top-level ``obj`` of a module, with the imports and module-level names it
    uses (transitively), in the file's order; ``from __future__`` imports are kept.

    :raises ConfigError: the file has no top-level ``obj``.
    """
    tree = ast.parse(text)
    top: dict[str, ast.stmt] = {}
    for node in tree.body:
        for name in _bound(node):
            top.setdefault(name, node)
    if obj not in top or isinstance(top[obj], (ast.Import, ast.ImportFrom)):
        raise ConfigError(f"new-plugin --from: {where} defines no top-level {obj!r}")
    keep: set[int] = set()
    pending = [top[obj]]
    while pending:
        node = pending.pop()
        if id(node) in keep:
            continue
        keep.add(id(node))
        pending += [top[n] for n in _used(node) if n in top]
    lines = text.splitlines()
    pieces = []
    for node in tree.body:
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if id(node) in keep or future:
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno, *(d.lineno for d in decorators)])
            pieces.append((node, "\n".join(lines[start - 1 : node.end_lineno])))
    out, previous = "", None
    for node, source in pieces:
        kind = _kind(node)
        gap = "\n" if kind == previous == "import" else "\n\n" if previous == "future" else "\n\n\n"
        out += (gap if out else "") + source
        previous = kind
    return out + "\n"


def _kind(node: ast.stmt) -> str:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return "future"
    return "import" if isinstance(node, (ast.Import, ast.ImportFrom)) else "code"


def check_documented(target: Any, where: str) -> None:
    """Refuse an object whose docstring does not document its parameters: the distribution's
    test (``assert_plugin_valid``) would fail, and the docstring is the plugin's reference.

    :raises ConfigError: naming the parameters to document.
    """
    from hookwise.plugins import CALLBACK_PARAMS, accepted_params
    from hookwise.testing._check import _documented, _target_docs

    doc, _ = _target_docs(target)
    accepted, _ = accepted_params(target)
    missing = [p for p in accepted if p not in CALLBACK_PARAMS and not _documented(p, doc)]
    if not doc.strip() or missing:
        what = f"parameter(s) {missing}" if missing else "what it does"
        raise ConfigError(
            f"new-plugin --from: {where} must document {what} in its docstring before it is "
            f"published (e.g. ':param {missing[0] if missing else 'name'}: ...'): the docstring "
            f"is the plugin's reference, and its test checks it"
        )


def promotion(spec: str) -> tuple[str, str, dict[str, Any], Any]:
    """``(path, object, params, target)`` of a ``--from FILE:OBJECT[:key=value,...]`` value.

    :raises ConfigError: it does not name an object of a Python file.
    """
    from hookwise.config.specs import PluginBlock, parse_plugin_option
    from hookwise.plugins import files

    option = parse_plugin_option(spec, source="--from")
    found = None if isinstance(option, PluginBlock) else files.split_file_spec(option.name)
    if found is None or found[1] is None or isinstance(option, PluginBlock):
        raise ConfigError(
            f"new-plugin --from: {spec!r} must name one object of a Python file, e.g. "
            f"--from ./callbacks.py:GradNorm (a plugins file holds several plugins: publish "
            f"each on its own)"
        )
    module = files.load_module(found[0])
    target = files.load_object(module, found[0], found[1])
    return found[0], found[1], dict(option.params), target


def render_tests(names: dict[str, str], hooks: list[str], params: dict[str, Any]) -> str:
    """A test that enables the moved plugin by name and checks it."""
    called = [h for h in hooks if h != "on_exception"]
    plugin = names["name"]
    return f'''"""Tests of the ``{plugin}`` plugin (moved from a local file by ``hookwise new-plugin
--from``), with hookwise's pytest fixtures. Run them once it is installed: ``pip install -e .``,
then ``python -m pytest tests``.
"""

NAME = "{names["name"]}"
PARAMS = {params!r}
HOOKS = {called!r}


def test_plugin_is_valid(assert_plugin_valid):
    # The entry point loads, its hooks match hookwise's, its parameters are documented and
    # its state survives a checkpoint round trip.
    assert_plugin_valid(NAME, **PARAMS)


def test_it_runs_its_hooks_in_a_fit(run_fit):
    result = run_fit([(NAME, PARAMS)], epochs=2, batches=3)
    for hook in HOOKS:
        result.calls.assert_called(hook, plugin=NAME)
'''


def render_readme(names: dict[str, str], origin: str, hooks: list[str], target: Any) -> str:
    """The README of a moved plugin."""
    doc = inspect.cleandoc(getattr(target, "__doc__", None) or "")
    hook_lines = "".join(f"- `{h}`\n" for h in hooks)
    return f"""# {names["distribution"]}

A hookwise plugin, enabled by the name `{names["name"]}`: `{names["class_name"]}`, moved from
`{origin}`.

```bash
pip install -e .                 # then `hookwise plugins` lists "{names["name"]}"
hookwise fit -p {names["name"]}
python -m pytest tests           # its tests, with hookwise's pytest fixtures
```

## Hooks used

{hook_lines}
## Reference

{doc}
"""


def write_promoted(spec: str, name: str | None, directory: Path) -> tuple[Path, dict[str, str]]:
    """Write the distribution of the local plugin ``spec``; return its folder and names.

    :raises ConfigError: see :func:`promotion`, :func:`check_documented`, and
        :func:`~hookwise.scaffold.write_plugin_project` (name taken, folder not empty).
    """
    from hookwise.listing import implemented_hooks
    from hookwise.scaffold import FILES, check_name_free, names_for, render, write_files

    path, obj, params, target = promotion(spec)
    names = {**names_for(name or snake(obj)), "class_name": obj}
    check_name_free(names)
    check_documented(target, f"{path}:{obj}")
    project = Path(directory) / names["distribution"]
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ConfigError(f"new-plugin: {str(project)!r} already exists and is not empty")
    text = Path(path).read_text(encoding="utf-8")
    header = (
        f'"""{names["distribution"]}: the hookwise plugin ``{names["name"]}`` ({obj}).\n"""\n\n'
    )
    source = header + extract(text, obj, path) + f'\n\n__all__ = ["{obj}"]\n'
    hooks = implemented_hooks(target)[0] or []
    texts = [
        render("pyproject.toml.tmpl", names),
        render_readme(names, f"{path}:{obj}", hooks, target),
        source,
        render_tests(names, hooks, params),
    ]
    write_files(project, {f.format(**names): t for f, t in zip(FILES, texts, strict=True)})
    return project, names


__all__ = ["check_documented", "extract", "promotion", "snake", "write_promoted"]
