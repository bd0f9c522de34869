"""hookwise plugin ``visualizer``: pictures of what the model sees and predicts.

``VisualizerCallback`` is vis4d's ``VisualizerCallback``; ``Visualizer`` is vis4d's visualizer
protocol; ``ImageGridVisualizer`` (``"image_grid"``) draws input images with their true and
predicted labels and saves them as PNG with Pillow.
"""

from __future__ import annotations

from hookwise_visualizer.base import Visualizer
from hookwise_visualizer.callback import VisualizerCallback
from hookwise_visualizer.grid import ImageGridVisualizer
from hookwise_visualizer.registry import VISUALIZER_GROUP, build_visualizer, known_names

__all__ = [
    "VISUALIZER_GROUP",
    "ImageGridVisualizer",
    "Visualizer",
    "VisualizerCallback",
    "build_visualizer",
    "known_names",
]
