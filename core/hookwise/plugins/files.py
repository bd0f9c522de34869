"""Local plugins: a plugin from a Python file, without packaging.

A plugin name whose path part (before ``:Object``) contains ``/`` or ends in ``.py`` is a
file (DESIGN decision 26): ``./callbacks.py:GradNorm`` is the object ``GradNorm`` of the file
``callbacks.py``, built with the plugin's parameters like an entry point's target; a file
without ``:Object`` (``./project_plugins.py``, or a config's ``plugins_file``) is a *project
plugins file*, as pytest's ``conftest.py``: its module-level ``@hookimpl`` functions are one
plugin (named by the file), and every class it defines (not imports) whose name does not start
with ``_`` is built without arguments and enabled, in file order, as ``file.py:Class``.

Nothing is picked up unnamed (DESIGN decision 17): a file runs only when a ``-p``, a config or
``pm.enable`` names it. A relative path is relative to the current folder (a config file's
names are made relative to the current folder when the config is read). The name a file plugin
is registered under (its checkpoint key, its name for ``-p no:``) is the path as written,
normalised (``./callbacks.py:GradNorm`` -> ``callbacks.py:GradNorm``); blocks and the
allow-list compare the file itself (its resolved path), so ``-p no:./callbacks.py`` blocks
everything in that file, ``no:callbacks.py:GradNorm`` one object of it.

A file is imported once per process (as the module ``hookwise_local.<stem>_<hash>``); its
folder is not put on ``sys.path``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import posixpath
import re
import sys
import types
from typing import Any

from hookwise.errors import PluginLoadError, PluginNotFoundError
from hookwise.targets import attribute_path

#: The package the files' modules are registered under in ``sys.modules``.
MODULE_PREFIX = "hookwise_local"


_SPEC = re.compile(r"(?P<path>.+?)(?::(?P<obj>[^\W\d][\w.]*))?(?:@[A-Za-z0-9_.-]+)?\Z")


def split_file_spec(name: str) -> tuple[str, str | None] | None:
    """``("./callbacks.py", "GradNorm")`` for ``"./callbacks.py:GradNorm"`` (an ``@instance``
    suffix is left out); ``(path, None)`` for a whole file; ``None`` when ``name`` is not a
    file."""
    match = _SPEC.match(name.strip())
    if match is None:
        return None
    path = match.group("path")
    if not ("/" in path or path.endswith(".py")):
        return None
    return path, match.group("obj")


def is_file_spec(name: str) -> bool:
    """Whether plugin name ``name`` names a file (DESIGN decision 26)."""
    return split_file_spec(name) is not None


def canonical(name: str) -> str:
    """The registered name of a file plugin: its path as written, normalised, and its object."""
    found = split_file_spec(name)
    if found is None:
        return name
    path, obj = found
    normal = posixpath.normpath(path.replace(os.sep, "/"))
    if "/" not in normal and not normal.endswith(".py"):
        normal = f"./{normal}"  # still a path when read again
    return f"{normal}:{obj}" if obj else normal


def resolved(path: str, base: str | None = None) -> str:
    """``path`` as an absolute, normalised path (relative to ``base`` or the current folder)."""
    return os.path.normpath(os.path.join(base or os.getcwd(), os.path.expanduser(path)))


def identity(name: str) -> tuple[str, str | None] | None:
    """``(resolved file, object)`` of a file plugin name, what blocks and allow-lists compare."""
    found = split_file_spec(name)
    return None if found is None else (resolved(found[0]), found[1])


def covers(entry: str, name: str) -> bool:
    """Whether the file spec ``entry`` (a block or an allow-list entry) covers plugin ``name``:
    the same file, and the same object or no object (the whole file)."""
    wanted, given = identity(entry), identity(name)
    if wanted is None or given is None:
        return False
    return wanted[0] == given[0] and (wanted[1] is None or wanted[1] == given[1])


def rebase(name: str, folder: str) -> str:
    """A file plugin name written in a config in ``folder``, relative to the current folder
    (other names unchanged)."""
    found = split_file_spec(name)
    if found is None or os.path.isabs(os.path.expanduser(found[0])):
        return name
    path = os.path.relpath(resolved(found[0], folder)).replace(os.sep, "/")
    path = path if path.startswith(("../", "/")) else f"./{path}"
    return f"{path}:{found[1]}" if found[1] else path


def absolute(name: str) -> str:
    """A file plugin name with its path made absolute (other names unchanged)."""
    found = split_file_spec(name)
    if found is None:
        return name
    suffix = name.strip()[len(found[0]) :]  # ":Object" and "@instance", as given
    return resolved(found[0]).replace(os.sep, "/") + suffix


def load_module(path: str) -> types.ModuleType:
    """Import the file at ``path`` (once per process).

    :raises PluginNotFoundError: there is no such file.
    :raises PluginLoadError: importing it raised (the message names the file and the error).
    """
    full = resolved(path)
    if not os.path.isfile(full):
        raise PluginNotFoundError(
            f"plugin file {path!r} does not exist (looked for {full}; a relative path is "
            f"relative to the current folder, or to the config file that names it)"
        )
    stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(full))[0])
    digest = hashlib.sha1(full.encode("utf-8")).hexdigest()[:10]
    module_name = f"{MODULE_PREFIX}.{stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, full)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"plugin file {path!r} ({full}) cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise PluginLoadError(
            f"plugin file {path!r} ({full}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_object(module: types.ModuleType, path: str, obj: str) -> Any:
    """The object ``obj`` (dotted for a nested one) of a file's module.

    :raises PluginLoadError: it has no such object (the message suggests close names).
    """
    return attribute_path(
        module,
        obj,
        lambda _, hint: PluginLoadError(f"plugin file {path!r} has no object {obj!r}.{hint}"),
    )


def import_module_plugin(name: str) -> types.ModuleType:
    """The module ``name`` (``mypkg.hooks``), for ``-p mypkg.hooks``: a dotted name no
    installed plugin has is a module of ``@hookimpl`` functions, by its exact import path.

    :raises PluginLoadError: it cannot be imported; the message says how to make it
        importable (install it, run from its folder, or set ``PYTHONPATH``).
    """
    import importlib

    from hookwise.errors import PluginLoadError

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PluginLoadError(
            f"no installed hookwise plugin is named {name!r}, and as a module path it does not "
            f"import: {type(exc).__name__}: {exc}. A module of @hookimpl functions must be "
            f"importable: install its package (pip install -e .), run hookwise from the folder "
            f"that holds it (the current folder is searched, as under python -m), or add that "
            f"folder to PYTHONPATH"
        ) from exc


def _has_module_hookimpls(module: types.ModuleType, marker: str) -> bool:
    return any(
        isinstance(getattr(value, marker, None), dict)
        for key, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    )


def project_plugins(module: types.ModuleType, name: str, marker: str) -> list[tuple[str, Any]]:
    """The plugins of a project plugins file, ``(registered name, object)`` in file order: the
    module itself when it has ``@hookimpl`` functions, then one object per public class it
    defines (see the module docstring).

    :raises PluginLoadError: a class cannot be built without arguments, or the file defines
        no plugin at all.
    """
    found: list[tuple[str, Any]] = []
    if _has_module_hookimpls(module, marker):
        found.append((name, module))
    for key, value in vars(module).items():
        if not inspect.isclass(value) or key.startswith("_"):
            continue
        if value.__module__ != module.__name__:
            continue  # imported, not defined here
        try:
            found.append((f"{name}:{key}", value()))
        except TypeError as exc:
            raise PluginLoadError(
                f"plugins file {name!r}: class {key!r} cannot be built without arguments "
                f"({exc}). Enable it with its parameters instead (-p {name}:{key}:key=value), "
                f"and name it _{key} (a leading '_' keeps a class out of the project plugins)"
            ) from exc
    if not found:
        raise PluginLoadError(
            f"plugins file {name!r} defines no plugin: no @hookimpl function and no public "
            f"class (a hookwise.Callback subclass, or a class with @hookimpl methods)"
        )
    return found


__all__ = [
    "MODULE_PREFIX",
    "absolute",
    "canonical",
    "covers",
    "identity",
    "import_module_plugin",
    "is_file_spec",
    "load_module",
    "load_object",
    "project_plugins",
    "rebase",
    "resolved",
    "split_file_spec",
]
