"""Turning a loaded plugin target into plugin objects: parameters, their types and values.

Used by the loader (:mod:`hookwise.plugins.loading`): ``{target = "package.module:Object"}``
parameter values are built first (under the allow-list), every value is checked against the
constructor's annotations, and the target (a class, a factory, a module or an object of
``@hookimpl`` functions) becomes one or more plugin objects. A plugin's declared requirement on
``hookwise`` is checked against the running version (DESIGN decision 29).
"""

from __future__ import annotations

import inspect
import logging
import types
from collections.abc import Mapping
from typing import Any

from hookwise.callback import Callback
from hookwise.errors import ConfigError, PluginLoadError
from hookwise.hookspecs import PROJECT_NAME
from hookwise.paramcheck import keyword_parameters
from hookwise.plugins.discovery import InstalledPlugin, normalize_name

logger = logging.getLogger("hookwise")

#: Parameters the manager keeps for itself and never passes to a plugin: the error policy and
#: the order constraints a user gives a plugin without editing it.
RESERVED_PARAMS: tuple[str, ...] = ("on_error", "run_before", "run_after")
#: Parameters a ``Callback`` subclass receives as in vis4d.
CALLBACK_PARAMS: tuple[str, ...] = ("epoch_based", "train_connector", "test_connector")
#: Parameters never built as objects: connectors are mappings whose keys may be ``target``.
_NOT_BUILT = ("train_connector", "test_connector", "epoch_based")


def build_params(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``params`` with every ``{target = "package.module:Object", ...}`` value built.

    A table whose ``target`` is a short name (no ``:`` or ``.``, such as the evaluator's
    ``{target = "accuracy"}``) is left for the plugin to resolve. Import paths are checked
    against the active allow-list by :func:`hookwise.targets.resolve`.
    """
    from hookwise.targets import (
        TARGET_KEY,
        Planned,
        check_targets,
        instantiate,
        is_dry_run,
        is_target,
    )

    built = {}
    for key, value in params.items():
        path = value.get(TARGET_KEY) if is_target(value) else None
        if key in _NOT_BUILT or path is None or not (":" in path or "." in path):
            built[key] = value
        elif is_dry_run():  # checked and imported, not called
            check_targets(value, where=f"{where} parameter {key!r}")
            built[key] = Planned(path)
        else:
            built[key] = instantiate(value, where=f"{where} parameter {key!r}")
    return built


def accepted_params(target: Any) -> tuple[list[str], bool]:
    """The keyword parameters ``target`` accepts, and whether it accepts any (``**kwargs``).

    For a ``Callback`` subclass whose constructor forwards ``**kwargs`` (vis4d style), the
    base class's ``epoch_based``, ``train_connector`` and ``test_connector`` count as accepted.
    A class that checks its ``**kwargs`` itself (they are not forwarded) says so with the class
    attribute ``accepts_extra_params = True``.
    """
    found = keyword_parameters(target.__init__ if inspect.isclass(target) else target)
    if found is None:
        return [], True
    names, var_keyword = list(found.names), found.var_keyword
    if inspect.isclass(target) and getattr(target, "accepts_extra_params", False) is True:
        return names, var_keyword
    if inspect.isclass(target) and issubclass(target, Callback) and var_keyword:
        for base in target.__mro__[1:]:
            if base is object:
                break
            base_names, base_var = (
                accepted_params(base) if base is not Callback else (list(CALLBACK_PARAMS), False)
            )
            names += [n for n in base_names if n not in names]
            if not base_var:
                return names, False
    return names, var_keyword


def is_plugin_object(obj: Any) -> bool:
    """Whether ``obj`` is a ready plugin (a module, a ``Callback`` or an object with
    ``@hookimpl`` functions) rather than something to call (a class, a factory)."""
    if isinstance(obj, types.ModuleType) or not callable(obj):
        return True
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj):
        return False
    if isinstance(obj, Callback):
        return True
    marker = f"{PROJECT_NAME}_impl"
    return any(hasattr(getattr(obj, n, None), marker) for n in dir(obj) if not n.startswith("__"))


def dry_run_stand_in(cls: type) -> Any:
    """An object with ``cls``'s hook methods and order declarations, built without calling
    ``cls`` (a dry run, where a parameter's ``{target}`` was not built): enough to show the
    call order, never called."""
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    for klass in reversed(cls.__mro__):
        if klass in (object, Callback):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("__") or isinstance(value, property):
                continue
            if isinstance(value, (types.FunctionType, staticmethod, classmethod)) or not hasattr(
                type(value), "__get__"
            ):
                namespace[attr] = value
    base: tuple[type, ...] = (Callback,) if issubclass(cls, Callback) else ()
    stand_in = type(cls.__name__, base, namespace)
    return object.__new__(stand_in)


def check_known_params(
    target: Any, params: Mapping[str, Any], name: str, info: InstalledPlugin | None
) -> list[str]:
    """Return the parameters ``target`` accepts.

    :raises ConfigError: ``params`` has one it does not accept (checked before any
        ``{target}`` value of ``params`` is built).
    """
    if is_plugin_object(target):
        return []
    accepted, any_keyword = accepted_params(target)
    unknown = [p for p in params if p not in accepted] if not any_keyword else []
    if unknown:
        origin = f" (distribution {info.distribution} {info.version})" if info else ""
        raise ConfigError(
            f"plugin {name!r}{origin} has no parameter(s) {unknown}. "
            f"It accepts: {accepted or 'no parameters'}."
        )
    return accepted


def build(
    target: Any, params: dict[str, Any], name: str, info: InstalledPlugin | None
) -> list[Any]:
    """Turn a loaded target into plugin objects (a factory may return several)."""
    from hookwise.paramcheck import check_param_types

    origin = f" (distribution {info.distribution} {info.version})" if info else ""
    if is_plugin_object(target):
        if params:
            raise ConfigError(
                f"plugin {name!r}{origin} takes no parameters (it is a module or object of "
                f"@hookimpl functions), got {sorted(params)}"
            )
        return [target]
    accepted = check_known_params(target, params, name, info)
    from hookwise.targets import Planned

    check_param_types(target, {k: v for k, v in params.items() if not isinstance(v, Planned)}, name)
    if inspect.isclass(target) and any(isinstance(v, Planned) for v in params.values()):
        return [dry_run_stand_in(target)]
    try:
        built = target(**params)
    except (TypeError, ValueError, AssertionError, ConfigError) as exc:
        raise ConfigError(
            f"plugin {name!r}{origin} could not be built with {params!r}: "
            f"{type(exc).__name__}: {exc}. It accepts: {accepted or 'no parameters'}."
        ) from exc
    except Exception as exc:
        raise PluginLoadError(
            f"plugin {name!r}{origin} raised while being built: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(built, (list, tuple)):
        return list(built)
    if built is None:
        raise PluginLoadError(f"plugin factory {name!r}{origin} returned None, not a plugin object")
    return [built]


def check_requirement(info: InstalledPlugin) -> None:
    """Check the ``hookwise`` requirement ``info``'s distribution declares (``Requires-Dist``)
    against the running hookwise.

    :raises PluginLoadError: the running version does not satisfy it; the message names the
        plugin, its distribution, the requirement, the running version and the fix.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    import hookwise

    dist = getattr(info.entry_point, "dist", None)
    for text in (dist.requires or []) if dist is not None else []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if normalize_name(requirement.name) != PROJECT_NAME:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if not requirement.specifier.contains(hookwise.__version__, prereleases=True):
            raise PluginLoadError(
                f"plugin {info.name!r} (distribution {info.distribution} {info.version}) needs "
                f"{requirement}, but hookwise {hookwise.__version__} is running. Install a "
                f"hookwise it supports (pip install '{requirement}'), or a version of "
                f"{info.distribution} made for hookwise {hookwise.__version__}."
            )
