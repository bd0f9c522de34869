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

from collections.abc import Mapping, Sequence
from typing import Any

from hookwise import targets

from hookwise_visualizer.base import missing_methods

#: The entry-point group in which distributions declare visualizers by short name.
VISUALIZER_GROUP = "hookwise.visualizers"

#: The visualizers that ship with this plugin, by short name.
SHIPPED: dict[str, str] = {"image_grid": "hookwise_visualizer.grid:ImageGridVisualizer"}

#: What the ``visualizer`` parameter may name, and how each is built (hookwise.targets.build).
REGISTRY = targets.Registry(
    kind="visualizer",
    names=SHIPPED,
    group=VISUALIZER_GROUP,
    forms=(
        'a short name ("image_grid"), an import path "package.module:Visualizer", a table '
        '{target = "image_grid", image_shape = [8, 8]}, or a visualizer object'
    ),
    missing=missing_methods,
    base="hookwise_visualizer.Visualizer",
)


def known_names() -> list[str]:
    """Every short name that :func:`build_visualizer` accepts."""
    return REGISTRY.known_names()


def build_visualizer(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    where: str = "plugin 'visualizer'",
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn the ``visualizer`` parameter into a visualizer object (see the module docstring).

    :param spec: the ``visualizer`` parameter.
    :param params: further parameters for the visualizer a name or a table builds
        (``image_shape=[8, 8]`` beside ``visualizer="image_grid"``).
    :param where: names the plugin in error messages.
    :param plugin_params: the plugin's own parameters, suggested when a parameter is unknown.
    :raises ConfigError: an unknown name (the known ones are listed), an import path that does
        not resolve, parameters the visualizer does not take, or an object that lacks
        ``process``, ``save_to_disk``, ``show`` or ``reset``.
    """
    return REGISTRY.build(spec, params, where=where, plugin_params=plugin_params)
