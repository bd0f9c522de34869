"""The visualizer protocol (vis4d's ``vis4d.vis.base.Visualizer``).

:class:`~hookwise_visualizer.VisualizerCallback` drives a visualizer batch by batch::

    process(cur_iter=i, **connector(outputs, batch))   # draws, if _run_on_batch(i)
    show(cur_iter=i)                                   # with show=True
    save_to_disk(cur_iter=i, output_folder=folder)     # with save_to_disk=True
    reset()

Subclass :class:`Visualizer`, or write any class with ``process``, ``save_to_disk``,
``show`` and ``reset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

#: The methods a visualizer must have.
REQUIRED = ("process", "save_to_disk", "show", "reset")


class Visualizer:
    """Base class of visualizers (vis4d's).

    :param vis_freq: draw on iterations where ``cur_iter % vis_freq == 0``.
    :param image_mode: the channel order of input images, ``"RGB"`` or ``"BGR"``.

    ``default_connector`` (a class attribute, optional) is the connector
    :class:`~hookwise_visualizer.VisualizerCallback` uses when it is given none, as a mapping
    ``{argument: {"pred": key} | {"data": key}}`` naming the arguments of :meth:`process`.
    """

    #: The connector used when the callback is given none (``None``: it must be given).
    default_connector: ClassVar[Mapping[str, Mapping[str, str]] | None] = None

    def __init__(self, vis_freq: int = 50, image_mode: str = "RGB") -> None:
        if isinstance(vis_freq, bool) or not isinstance(vis_freq, int) or vis_freq < 1:
            raise ValueError(f"vis_freq must be a positive number of iterations, got {vis_freq!r}")
        if image_mode not in ("RGB", "BGR"):
            raise ValueError(f"image_mode must be 'RGB' or 'BGR', got {image_mode!r}")
        self.vis_freq = vis_freq
        self.image_mode = image_mode

    def _run_on_batch(self, cur_iter: int) -> bool:
        """Whether iteration ``cur_iter`` is drawn."""
        return cur_iter % self.vis_freq == 0

    def reset(self) -> None:
        """Forget what was drawn (called after every batch)."""
        raise NotImplementedError

    def process(self, cur_iter: int, *args: Any, **kwargs: Any) -> None:
        """Draw the batch (the connector's keys are the keyword arguments)."""
        raise NotImplementedError

    def show(self, cur_iter: int, blocking: bool = True) -> None:
        """Show what was drawn."""
        raise NotImplementedError

    def save_to_disk(self, cur_iter: int, output_folder: str) -> None:
        """Write what was drawn into ``output_folder``."""
        raise NotImplementedError


def missing_methods(obj: Any) -> list[str]:
    """The required visualizer methods ``obj`` lacks."""
    return [name for name in REQUIRED if not callable(getattr(obj, name, None))]
