"""Visualizers by name: the shipped one, and those other distributions declare.

The ``visualizer`` parameter of :class:`~hookwise_visualizer.VisualizerCallback` may be

- a visualizer object;
- a short name: ``"image_grid"``, or a name declared by an installed distribution in the
  entry-point group ``hookwise.visualizers``;
- an import path ``"package.module:Visualizer"`` (a class or factory is called);
- a mapping ``{target = NAME_OR_PATH, **params}``.

With a name, a path or a table, the plugin's parameters that are not its own go to the
visualizer: ``visualizer = "image_grid"`` beside ``image_shape = [8, 8]``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hookwise.errors import ConfigError
from hookwise.targets import TARGET_KEY, instantiate, resolve

from hookwise_visualizer.base import missing_methods

#: The entry-point group in which distributions declare visualizers by short name.
VISUALIZER_GROUP = "hookwise.visualizers"

#: The visualizers that ship with this plugin, by short name.
SHIPPED: dict[str, str] = {"image_grid": "hookwise_visualizer.grid:ImageGridVisualizer"}

_FORMS = (
    'a short name ("image_grid"), an import path "package.module:Visualizer", a table '
    '{target = "image_grid", image_shape = [8, 8]}, or a visualizer object'
)


def _declared() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=VISUALIZER_GROUP)}


def known_names() -> list[str]:
    """Every short name that :func:`build_visualizer` accepts."""
    return sorted({*SHIPPED, *_declared()})


def _lookup(target: str, where: str) -> Any:
    if ":" in target or "." in target:
        return resolve(target, where=where)
    path = SHIPPED.get(target) or _declared().get(target)
    if path is None:
        close = difflib.get_close_matches(target, known_names(), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"{where}: there is no visualizer named {target!r}.{hint} Known names: "
            f"{', '.join(known_names())}. Or give {_FORMS}."
        )
    return resolve(path, where=f"{where} {target!r}")


def _build(
    factory: Callable[..., Any], params: Mapping[str, Any], where: str, plugin_params: Sequence[str]
) -> Any:
    name = getattr(factory, "__name__", repr(factory))
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    accepted = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        unknown = [key for key in params if key not in accepted]
        if unknown:
            close = [
                c
                for key in unknown
                for c in difflib.get_close_matches(key, [*accepted, *plugin_params], n=1)
            ]
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"{where}: unknown parameter(s) {unknown}.{hint} Visualizer {name} accepts "
                f"{accepted or 'no parameters'}; the plugin's own parameters are "
                f"{list(plugin_params)}."
            )
    try:
        return factory(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{where}: {name} could not be built with {dict(params)!r}: {exc}. It accepts: "
            f"{accepted or 'no parameters'}."
        ) from exc


def build_visualizer(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    where: str = "plugin 'visualizer'",
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn the ``visualizer`` parameter into a visualizer object (see the module docstring).

    :raises ConfigError: an unknown name (the known ones are listed), an import path that does
        not resolve, parameters the visualizer does not take, or an object that lacks
        ``process``, ``save_to_disk``, ``show`` or ``reset``.
    """
    extra = dict(params or {})
    if spec is None:
        raise ConfigError(f"{where}: the parameter 'visualizer' is required: give {_FORMS}")
    if isinstance(spec, str):
        found = _lookup(spec, where)
        if inspect.isclass(found) or (callable(found) and missing_methods(found)):
            visualizer = _build(found, extra, where, plugin_params)
            extra = {}
        else:
            visualizer = found
    elif isinstance(spec, Mapping):
        if TARGET_KEY not in spec:
            raise ConfigError(f"{where}: a visualizer table needs a 'target' key; give {_FORMS}")
        clash = sorted(set(extra) & set(spec))
        if clash:
            raise ConfigError(
                f"{where}: {clash} given both in the visualizer table and beside it; keep one"
            )
        table = {**{k: v for k, v in spec.items() if k != TARGET_KEY}, **extra}
        extra = {}
        kwargs = {key: instantiate(value, where=f"{where}.{key}") for key, value in table.items()}
        visualizer = _build(_lookup(str(spec[TARGET_KEY]), where), kwargs, where, plugin_params)
    else:
        visualizer = spec
    if extra:
        raise ConfigError(
            f"{where}: parameter(s) {sorted(extra)} are not the plugin's own "
            f"{list(plugin_params)}, and the visualizer {visualizer!r} is already built; pass "
            f"them to the visualizer itself"
        )
    missing = missing_methods(visualizer)
    if missing:
        raise ConfigError(
            f"{where}: {visualizer!r} is not a visualizer: it lacks {missing}. Subclass "
            f"hookwise_visualizer.Visualizer, or give {_FORMS}."
        )
    return visualizer
