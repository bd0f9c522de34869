"""Evaluators by name: the shipped ones, and those other distributions declare.

The ``evaluator`` parameter of :class:`~hookwise_evaluator.EvaluatorCallback` may be

- an evaluator object;
- a short name: ``"accuracy"`` (or ``"classification"``), ``"regression"``, or a name declared
  by an installed distribution in the entry-point group ``hookwise.evaluators``;
- an import path ``"package.module:Evaluator"`` (a class or factory is called without
  arguments);
- a mapping ``{target = NAME_OR_PATH, **params}``: the target is a short name or an import
  path, called with the other keys, e.g. ``{target = "accuracy", top_k = [1, 5]}``.

With a name, an import path or a table, the plugin's other parameters that are not its own go
to the evaluator too: ``evaluator = "accuracy"`` beside ``top_k = [1, 5]``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hookwise.errors import ConfigError
from hookwise.targets import TARGET_KEY, instantiate, resolve

from hookwise_evaluator.base import missing_methods

#: The entry-point group in which distributions declare evaluators by short name.
EVALUATOR_GROUP = "hookwise.evaluators"

#: The evaluators that ship with this plugin, by short name.
SHIPPED: dict[str, str] = {
    "accuracy": "hookwise_evaluator.classification:ClassificationEvaluator",
    "classification": "hookwise_evaluator.classification:ClassificationEvaluator",
    "regression": "hookwise_evaluator.regression:RegressionEvaluator",
}

_FORMS = (
    'a short name ("accuracy", "regression"), an import path "package.module:Evaluator", '
    'a table {target = "accuracy", top_k = [1, 5]}, or an evaluator object'
)


def _declared() -> dict[str, str]:
    """Short names declared in the ``hookwise.evaluators`` group (metadata only, no import)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=EVALUATOR_GROUP)}


def known_names() -> list[str]:
    """Every short name that :func:`build_evaluator` accepts."""
    return sorted({*SHIPPED, *_declared()})


def _is_short_name(value: str) -> bool:
    return ":" not in value and "." not in value


def _factory(name: str, where: str) -> Callable[..., Any]:
    path = SHIPPED.get(name) or _declared().get(name)
    if path is None:
        close = difflib.get_close_matches(name, known_names(), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"{where}: there is no evaluator named {name!r}.{hint} Known names: "
            f"{', '.join(known_names())}. Or give {_FORMS}."
        )
    factory: Callable[..., Any] = resolve(path, where=f"{where} {name!r}")
    return factory


def _accepted(factory: Callable[..., Any]) -> tuple[list[str], bool]:
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return [], True
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _call(
    factory: Callable[..., Any],
    params: Mapping[str, Any],
    where: str,
    plugin_params: Sequence[str] = (),
) -> Any:
    name = getattr(factory, "__name__", repr(factory))
    accepted, any_keyword = _accepted(factory)
    unknown = [key for key in params if key not in accepted] if not any_keyword else []
    if unknown:
        close = [c for key in unknown for c in difflib.get_close_matches(key, accepted, n=1)]
        close += [c for key in unknown for c in difflib.get_close_matches(key, plugin_params, n=1)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        own = f"; the plugin's own parameters are {list(plugin_params)}" if plugin_params else ""
        raise ConfigError(
            f"{where}: unknown parameter(s) {unknown}.{hint} Evaluator {name} accepts "
            f"{accepted or 'no parameters'}{own}."
        )
    try:
        return factory(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{where}: {name} could not be built with {dict(params)!r}: {exc}. It accepts: "
            f"{accepted or 'no parameters'}."
        ) from exc


def build_evaluator(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    where: str = "plugin 'evaluator'",
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn the ``evaluator`` parameter into an evaluator object (see the module docstring).

    :param spec: the ``evaluator`` parameter.
    :param params: further parameters for the evaluator a name or a table builds
        (``top_k=[1, 5]`` beside ``evaluator="accuracy"``).
    :param where: names the plugin in error messages.
    :param plugin_params: the plugin's own parameters, suggested when a parameter is unknown.
    :raises ConfigError: an unknown name (the message lists the known ones), an import path
        that does not resolve, parameters the evaluator does not take, or an object that lacks
        ``metrics``, ``reset``, ``process_batch`` or ``evaluate``.
    """
    extra = dict(params or {})
    if spec is None:
        raise ConfigError(f"{where}: the parameter 'evaluator' is required: give {_FORMS}")
    if isinstance(spec, str):
        found = _factory(spec, where) if _is_short_name(spec) else resolve(spec, where=where)
        is_instance = not inspect.isclass(found) and not missing_methods(found)
        if is_instance or not callable(found):
            evaluator = found
        else:
            evaluator = _call(found, extra, where, plugin_params)
            extra = {}
    elif isinstance(spec, Mapping):
        if TARGET_KEY not in spec:
            raise ConfigError(f"{where}: an evaluator table needs a 'target' key; give {_FORMS}")
        clash = sorted(set(extra) & set(spec))
        if clash:
            raise ConfigError(
                f"{where}: {clash} given both in the evaluator table and beside it; keep one"
            )
        target = spec[TARGET_KEY]
        table = {**{k: v for k, v in spec.items() if k != TARGET_KEY}, **extra}
        extra = {}
        kwargs = {key: instantiate(value, where=f"{where}.{key}") for key, value in table.items()}
        factory = (
            _factory(target, where)
            if isinstance(target, str) and _is_short_name(target)
            else resolve(target, where=f"{where}.target")
        )
        evaluator = _call(factory, kwargs, where, plugin_params)
    else:
        evaluator = spec
    if extra:
        raise ConfigError(
            f"{where}: parameter(s) {sorted(extra)} are not the plugin's own "
            f"{list(plugin_params)}, and the evaluator {evaluator!r} is already built, so they "
            f"cannot go to it either; pass them to the evaluator itself"
        )
    missing = missing_methods(evaluator)
    if missing:
        raise ConfigError(
            f"{where}: {evaluator!r} is not an evaluator: it lacks {missing}. Subclass "
            f"hookwise_evaluator.Evaluator, or give {_FORMS}."
        )
    return evaluator
