"""Objects named by import path: ``{target = "package.module:callable", ...keyword arguments}``.

Configs choose the model, data, optimizer, loss and object-valued plugin parameters this way::

    [model]
    target = "hookwise.examples.digits:DigitsMLP"
    hidden = 64

:func:`instantiate` imports ``target`` and calls it with the other keys. Nested tables are
instantiated first when they have a ``target`` of their own.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from hookwise.errors import ConfigError

TARGET_KEY = "target"


def resolve(path: str, *, where: str = "target") -> Any:
    """Import ``"package.module:attribute"`` (or ``"package.module.attribute"``) and return it.

    :raises ConfigError: the module or the attribute does not exist (the message says which,
        and suggests close names).
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: expected an import path 'package.module:name', got {path!r}")
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(f"{where}: {path!r} is not an import path 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} of {path!r}: {exc}. Is the package "
            f"installed in this environment?"
        ) from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"{where}: {module_name!r} has no attribute {part!r}.{hint}")
        obj = getattr(obj, part)
    return obj


def is_target(value: Any) -> bool:
    """Whether ``value`` is a mapping whose ``target`` is a string (an import path).

    A mapping whose ``target`` is something else, such as the connector entry
    ``target = { data = "labels" }``, is plain data.
    """
    return isinstance(value, Mapping) and isinstance(value.get(TARGET_KEY), str)


def instantiate(value: Any, *, where: str = "config", **extra: Any) -> Any:
    """Build the object ``value`` describes; other values are returned as they are.

    :param value: ``{target = "pkg.mod:callable", **kwargs}``, or anything else.
    :param where: what is being built, for error messages (``"[model]"``, ``"plugin evaluator"``).
    :param extra: keyword arguments added to the call (``params`` for an optimizer, say).
    :raises ConfigError: the target cannot be imported, or rejects the arguments.
    """
    if not is_target(value):
        return value
    target = resolve(value[TARGET_KEY], where=f"{where}.target")
    kwargs = {
        key: instantiate(item, where=f"{where}.{key}")
        for key, item in value.items()
        if key != TARGET_KEY
    }
    kwargs.update(extra)
    try:
        return target(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"{where}: {value[TARGET_KEY]!r} rejected the arguments {sorted(kwargs)}: {exc}"
        ) from exc
